"""What the tests share: real servers and receivers, HTTP checks, tiny models, the CLI.

`tests/` is on pytest's `pythonpath`, so any test imports `from support.servers import ...`.
"""

from modelcatalog.cli import main

main()

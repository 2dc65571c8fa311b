from benchmarks.migrate.run import main

main()

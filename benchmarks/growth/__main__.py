from benchmarks.growth.run import main

main()

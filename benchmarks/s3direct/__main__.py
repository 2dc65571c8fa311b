from benchmarks.s3direct.run import main

main()

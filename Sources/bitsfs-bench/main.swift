runIntervalMapBenchmark()

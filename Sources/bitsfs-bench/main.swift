// `bitsfs-bench [intervals|listings]…`: the named benchmarks, or all of them.
let chosen = Set(CommandLine.arguments.dropFirst())
if chosen.isEmpty || chosen.contains("intervals") { runIntervalMapBenchmark() }
if chosen.isEmpty || chosen.contains("listings") { runListingParseBenchmark() }

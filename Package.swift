// swift-tools-version: 6.0
import PackageDescription

let package = Package(
  name: "bitsfs",
  platforms: [.macOS(.v15)],
  products: [
    .executable(name: "bitsfs", targets: ["bitsfs"]),
    .library(name: "BitsEngine", targets: ["BitsEngine"]),
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
    .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
    // The Prometheus backend of swift-metrics (on swift-atomics; no server in it).
    .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
  ],
  targets: [
    // System libraries, found through pkg-config.
    .systemLibrary(
      name: "CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"])]),
    .systemLibrary(name: "CFuse3", pkgConfig: "fuse3", providers: [.apt(["libfuse3-dev"])]),
    // Linux calls that the Glibc module leaves out.
    .systemLibrary(name: "CLinux"),

    // The download-job engine: ranges, HTTP over libcurl, the persistent cache, BITS-style jobs.
    .target(
      name: "BitsEngine",
      dependencies: [
        "CCurl", "CLinux", .product(name: "Logging", package: "swift-log"),
        .product(name: "CoreMetrics", package: "swift-metrics"),
      ]),

    // libfuse low-level callbacks bridged to a table of Swift functions.
    .target(name: "CFuseShim", dependencies: ["CFuse3"]),

    // The read-only FUSE filesystem: a thin adapter from kernel requests to the engine.
    .target(
      name: "BitsMount",
      dependencies: [
        "BitsEngine", "CFuseShim", "CLinux", .product(name: "Logging", package: "swift-log"),
        .product(name: "CoreMetrics", package: "swift-metrics"),
      ]),

    .executableTarget(
      name: "bitsfs",
      dependencies: [
        "BitsEngine", "BitsMount", "CLinux",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
        .product(name: "Logging", package: "swift-log"),
        .product(name: "CoreMetrics", package: "swift-metrics"),
        .product(name: "Prometheus", package: "swift-prometheus"),
      ],
      plugins: ["BuildCommit"]),
    // Names the commit of a build, for `bitsfs --version`.
    .plugin(name: "BuildCommit", capability: .buildTool()),
    .executableTarget(name: "bitsfs-bench", dependencies: ["BitsEngine", "TestSupport"]),
    // The parsers of outside input under libFuzzer (scripts/fuzz.sh); plainly built, a replayer.
    .systemLibrary(name: "CFuzzer"),
    .executableTarget(name: "bitsfs-fuzz", dependencies: ["BitsEngine", "CFuzzer"]),

    // Test servers and deterministic data, for the tests and the benchmarks.
    .target(name: "TestSupport", dependencies: ["BitsEngine"], path: "Tests/TestSupport"),
    // What tests need of the machine (root, /dev/fuse): XCTest, so for the test targets only.
    .target(name: "TestPrerequisites", dependencies: ["TestSupport"], path: "Tests/TestPrerequisites"),
    // The engine on its own: pure decisions, the cache files, and the engine over the in-memory
    // transport (fast, no sockets).
    .testTarget(name: "BitsEngineTests", dependencies: ["BitsEngine", "TestSupport"]),
    // The engine against real servers on 127.0.0.1: nginx (also over TLS and HTTP/2) and the
    // project's fault-injecting and header-logging servers.
    .testTarget(name: "EngineIntegrationTests", dependencies: ["BitsEngine", "TestSupport", "TestPrerequisites"]),
    .testTarget(name: "BitsMountTests", dependencies: ["BitsEngine", "BitsMount", "TestSupport", "TestPrerequisites"]),
    .testTarget(name: "CommandLineTests", dependencies: ["TestSupport", "TestPrerequisites"]),
  ]
)

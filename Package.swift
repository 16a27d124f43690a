// swift-tools-version: 6.1
import PackageDescription

// Members are visible only in files that import their module: the stdlib's Synchronization and
// swift-atomics both extend the integer types with `AtomicRepresentation`.
let strictImports: [SwiftSetting] = [.enableUpcomingFeature("MemberImportVisibility")]

// Release builds of the daemon's own targets drop dynamic exclusivity checks: measured at ~8 % of
// the server's CPU per vote (swift_beginAccess on every class property access). Debug builds, which
// all tests use, keep them.
let serverSettings: [SwiftSetting] = strictImports + [
    .unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release)),
]

let package = Package(
    name: "Tally",
    products: [
        .executable(name: "tallyd", targets: ["tallyd"]),
        .executable(name: "tally-load", targets: ["tally-load"]),
        .library(name: "TallyBase", targets: ["TallyBase"]),
        .library(name: "TallyCore", targets: ["TallyCore"]),
        .library(name: "TallyHTTP", targets: ["TallyHTTP"]),
        .library(name: "TallyAPI", targets: ["TallyAPI"]),
        .library(name: "TallyStore", targets: ["TallyStore"]),
        .library(name: "TallyCloser", targets: ["TallyCloser"]),
        .library(name: "TallyPages", targets: ["TallyPages"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-atomics.git", from: "1.3.0"),
        .package(url: "https://github.com/x-sheep/swift-property-based.git", from: "2.0.1"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/LebJe/TOMLKit.git", from: "0.6.0"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift.git", from: "0.2.0"),
    ],
    targets: [
        // The engine: polls, rules, lock-free ledger, sharded counters. Pure Swift, no I/O.
        .target(
            name: "TallyCore",
            dependencies: [.product(name: "Atomics", package: "swift-atomics")],
            swiftSettings: serverSettings
        ),
        .systemLibrary(name: "CLibUV", pkgConfig: "libuv", providers: [.apt(["libuv1-dev"])]),
        // What the transport, the store and the API all use: byte buffers, single-writer counters
        // and histograms for /metrics, a loop's context.
        .target(
            name: "TallyBase",
            dependencies: ["CLibUV", .product(name: "Atomics", package: "swift-atomics")],
            swiftSettings: serverSettings
        ),
        // Debian's http-parser ships no pkg-config file: the module map links it.
        .systemLibrary(name: "CHTTPParser", providers: [.apt(["libhttp-parser-dev"])]),
        // The libuv transport: loops, listener, connections, http_parser glue, router, responses.
        // Knows nothing about polls.
        .target(
            name: "TallyHTTP",
            dependencies: ["TallyBase", "CLibUV", "CHTTPParser", .product(name: "Atomics", package: "swift-atomics")],
            swiftSettings: serverSettings
        ),
        // One folder per dialect; each translates wire format <-> engine calls, nothing more.
        .target(
            name: "TallyAPI",
            dependencies: [
                "TallyBase", "TallyCore", "TallyHTTP", "TallyStore",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Atomics", package: "swift-atomics"),
            ],
            exclude: ["Native/openapi.yaml"],
            swiftSettings: serverSettings
        ),
        // The live-event pages (stage screen, voting page, organizer console): static files embedded
        // in the binary, gzip'd once with zlib, and QR codes drawn by libqrencode.
        .systemLibrary(name: "CQREncode", pkgConfig: "libqrencode", providers: [.apt(["libqrencode-dev"])]),
        .systemLibrary(name: "CZlib", providers: [.apt(["zlib1g-dev"])]),
        .target(
            name: "TallyPages",
            dependencies: ["TallyBase", "TallyCore", "TallyHTTP", "TallyAPI", "CQREncode", "CZlib"],
            resources: ["live.html", "vote.html", "console.html", "pages.css", "live.js", "vote.js", "console.js"].map {
                .embedInCode("Assets/\($0)")
            },
            swiftSettings: serverSettings
        ),
        .systemLibrary(name: "CHiredis", pkgConfig: "hiredis", providers: [.apt(["libhiredis-dev"])]),
        // hiredis reply objects carved from one arena per connection (no malloc per reply object).
        .target(name: "CReplyArena", dependencies: ["CHiredis"]),
        // Redis write-through: hiredis on each loop, key schema, the authoritative vote script.
        .target(
            name: "TallyStore",
            dependencies: [
                "TallyBase", "TallyCore", "CHiredis", "CReplyArena", "CLibUV", .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Atomics", package: "swift-atomics"),
            ],
            swiftSettings: serverSettings
        ),
        // The close worker: a thread with a schedule of end dates that finalizes polls in Redis.
        .target(name: "TallyCloser", dependencies: ["TallyCore", "TallyStore"], swiftSettings: serverSettings),
        // The executable: CLI, TOML configuration, signals, wiring.
        .executableTarget(
            name: "tallyd",
            dependencies: [
                "TallyBase", "TallyCore", "TallyHTTP", "TallyAPI", "TallyStore", "TallyCloser", "TallyPages",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "TOMLKit", package: "TOMLKit"),
            ],
            swiftSettings: serverSettings
        ),
        // The load generator: open-loop voters against running daemons, with a check of the tallies.
        .executableTarget(
            name: "tally-load",
            dependencies: [
                "CLibUV", "CHTTPParser", "TallyAPI", "TallyBase", "TallyCore", "TallyHTTP", "TallyStore",
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(
            name: "TallyCoreTests",
            dependencies: [
                "TallyCore",
                .product(name: "PropertyBased", package: "swift-property-based"),
            ]
        ),
        .target(name: "TallyTestSupport", path: "Tests/TallyTestSupport"),
        .testTarget(name: "TallyHTTPTests", dependencies: ["TallyHTTP", "TallyTestSupport"]),
        .testTarget(name: "TallyLoadTests", dependencies: ["tally-load"]),
        .testTarget(
            name: "TallyAPITests",
            dependencies: ["TallyAPI", "TallyCore", "TallyTestSupport", .product(name: "Crypto", package: "swift-crypto")]),
        .testTarget(name: "TallyCloserTests", dependencies: ["TallyCloser", "TallyCore", "TallyStore", "TallyTestSupport"]),
        .testTarget(name: "TallyStoreTests", dependencies: ["TallyStore", "TallyCore", "TallyBase", "CLibUV", "TallyTestSupport"]),
        // The real daemon over real sockets (depends on tallyd and tally-load so they are built first).
        .testTarget(
            name: "EndToEndTests",
            dependencies: ["tallyd", "tally-load", "TallyAPI", "TallyBase", "TallyHTTP", "TallyStore", "TallyTestSupport"]),
        // In-process throughput of the validated vote path (release builds only).
        .executableTarget(
            name: "tally-bench-engine",
            dependencies: ["TallyCore", .product(name: "Atomics", package: "swift-atomics")],
            path: "Benchmarks/EngineVotePath"
        ),
        // The close worker against a real Redis: a burst of polls ending at once, and lateness.
        .executableTarget(
            name: "tally-bench-closer",
            dependencies: ["TallyCore", "TallyStore", "TallyCloser"],
            path: "Benchmarks/CloseWorker"
        ),
    ]
)

// swift-tools-version: 6.1
import PackageDescription

// Members are visible only in files that import their module: the stdlib's Synchronization and
// swift-atomics both extend the integer types with `AtomicRepresentation`.
let strictImports: [SwiftSetting] = [.enableUpcomingFeature("MemberImportVisibility")]

let package = Package(
    name: "Tally",
    products: [
        .library(name: "TallyCore", targets: ["TallyCore"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-atomics.git", from: "1.3.0"),
        .package(url: "https://github.com/x-sheep/swift-property-based.git", from: "2.0.1"),
    ],
    targets: [
        // The engine: polls, rules, lock-free ledger, sharded counters. Pure Swift, no I/O.
        .target(
            name: "TallyCore",
            dependencies: [.product(name: "Atomics", package: "swift-atomics")],
            swiftSettings: strictImports
        ),
        .testTarget(
            name: "TallyCoreTests",
            dependencies: [
                "TallyCore",
                .product(name: "PropertyBased", package: "swift-property-based"),
            ]
        ),
        // In-process throughput of the validated vote path (release builds only).
        .executableTarget(
            name: "tally-bench-engine",
            dependencies: ["TallyCore", .product(name: "Atomics", package: "swift-atomics")],
            path: "Benchmarks/EngineVotePath"
        ),
    ]
)

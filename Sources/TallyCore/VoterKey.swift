/// A voter as the ledger knows them: 128 bits hashed from the voter id.
///
/// 128 bits make a collision (two voters sharing a ballot) practically impossible (~2^-64 at four
/// billion voters in one poll). `low`, which the ledger probes by, is seeded per process (Swift's
/// `Hasher`), so crafted ids cannot aim at one probe chain. `high` is `StableHash`, the same in every
/// process, so numbers a dialect derives from it (Canvas' `user_id`) are the same on every daemon
/// and after restarts. Keys are never stored: Redis keeps the voter id itself.
public struct VoterKey: Hashable, Sendable {
    /// Always has its top bit set, so it never equals one of the ledger's slot states (0, 1, 2).
    public let high: UInt64
    public let low: UInt64

    public init(id: String) {
        var id = id
        self = id.withUTF8 { VoterKey(bytes: UnsafeRawBufferPointer($0)) }
    }

    public init(bytes: UnsafeRawBufferPointer) {
        var seeded = Hasher()
        seeded.combine(0x5441_4C4C_5902 as UInt64)
        seeded.combine(bytes: bytes)
        high = StableHash.fnv1a(bytes) | (1 << 63)
        low = UInt64(UInt(bitPattern: seeded.finalize()))
    }
}

/// A voter as the ledger knows them: 128 bits hashed from the voter id.
///
/// 128 bits make a collision (two voters sharing a ballot) practically impossible (~2^-64 at four
/// billion voters in one poll). `low`, which the ledger probes by, is seeded per process (Swift's
/// `Hasher`), so crafted ids cannot aim at one probe chain. `high` is FNV-1a, the same in every
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
        var stable: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes { stable = (stable ^ UInt64(byte)) &* 0x100_0000_01b3 }
        var seeded = Hasher()
        seeded.combine(0x5441_4C4C_5902 as UInt64)
        seeded.combine(bytes: bytes)
        high = stable | (1 << 63)
        low = UInt64(UInt(bitPattern: seeded.finalize()))
    }
}

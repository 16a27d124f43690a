/// Redis Cluster's keyspace: which of its 16 384 slots a key is in, which master serves each slot,
/// and the redirections a node answers with when it does not. As the Redis Cluster specification
/// defines them: a key's slot is CRC16 (XMODEM) of its hash tag, or of the whole key without one,
/// mod 16 384; `MOVED slot host:port` says the slot lives elsewhere now, `ASK slot host:port`
/// that it is being moved and this one command goes there, after `ASKING`. (No hiredis cluster
/// library is packaged for Debian 12; this is all of the routing it would do.)
public enum ClusterSlot {
    public static let count = 16_384

    /// The slot of `key`: the hash tag is what lies between the first `{` and the first `}` after
    /// it, if that is not empty (so every key `{p:42}:…` of poll 42 shares one slot).
    public static func of(_ key: UnsafeRawBufferPointer) -> Int {
        var hashed = key
        if let open = key.firstIndex(of: UInt8(ascii: "{")),
            let close = key[(open + 1)...].firstIndex(of: UInt8(ascii: "}")), close > open + 1
        {
            hashed = UnsafeRawBufferPointer(rebasing: key[(open + 1)..<close])
        }
        return Int(crc16(hashed)) & (count - 1)
    }

    public static func of(_ key: String) -> Int {
        var key = key
        return key.withUTF8 { of(UnsafeRawBufferPointer($0)) }
    }

    /// CRC16-CCITT (XMODEM): polynomial 0x1021, initial value 0, no reflection.
    static func crc16(_ bytes: UnsafeRawBufferPointer) -> UInt16 {
        var crc: UInt16 = 0
        for byte in bytes { crc = (crc << 8) ^ table[Int((crc >> 8) ^ UInt16(byte)) & 0xFF] }
        return crc
    }

    private static let table: [UInt16] = (0..<256).map { index in
        var crc = UInt16(index) << 8
        for _ in 0..<8 { crc = crc & 0x8000 != 0 ? (crc << 1) ^ 0x1021 : crc << 1 }
        return crc
    }
}

/// Which master serves each slot, as the cluster last said (`CLUSTER SLOTS`, then redirections).
public struct SlotMap: Equatable {
    /// Every master named, "host:port"; a slot's owner is an index into it.
    public private(set) var masters: [String] = []
    /// Per slot, the index of its master in `masters`, or -1 (no master known: refresh the map).
    private var owners = [Int16](repeating: -1, count: ClusterSlot.count)

    public init() {}

    /// From a `CLUSTER SLOTS` reply: [[start, end, [host, port, id, …] (the master), replicas…], …].
    public init?(clusterSlots reply: RedisReply) {
        guard reply.isArray else { return nil }
        for index in 0..<reply.count {
            let range = reply[index]
            guard range.count >= 3, let start = range[0].integer, let end = range[1].integer, start <= end, end < ClusterSlot.count,
                range[2].count >= 2, let host = range[2][0].string, let port = range[2][1].integer
            else { return nil }
            // A node may announce an empty host ("" or "?"): it is then where the reply came from.
            assign(Int(start)...Int(end), to: "\(host):\(port)")
        }
    }

    /// The master of `slot` ("host:port"), if known.
    public func master(ofSlot slot: Int) -> String? {
        let owner = owners[slot]
        return owner < 0 ? nil : masters[Int(owner)]
    }

    /// Whether every slot has a master.
    public var coversEverySlot: Bool { !owners.contains(-1) }

    /// A `MOVED`: the slot is served by `address` from now on.
    public mutating func move(slot: Int, to address: String) { assign(slot...slot, to: address) }

    private mutating func assign(_ slots: ClosedRange<Int>, to address: String) {
        let owner: Int
        if let known = masters.firstIndex(of: address) {
            owner = known
        } else {
            owner = masters.count
            masters.append(address)
        }
        for slot in slots { owners[slot] = Int16(owner) }
    }
}

/// A node's answer that a key's slot is served elsewhere.
public enum Redirection: Equatable {
    /// `MOVED slot host:port`: for good; update the map and send there.
    case moved(slot: Int, address: String)
    /// `ASK slot host:port`: the slot is being moved; this command goes there, after `ASKING`.
    case ask(slot: Int, address: String)

    /// The redirection an error reply says, if it is one.
    public init?(_ reply: RedisReply) {
        guard reply.isError, let text = reply.string else { return nil }
        let parts = text.split(separator: " ")
        guard parts.count == 3, let slot = Int(parts[1]), (0..<ClusterSlot.count).contains(slot) else { return nil }
        switch parts[0] {
        case "MOVED": self = .moved(slot: slot, address: String(parts[2]))
        case "ASK": self = .ask(slot: slot, address: String(parts[2]))
        default: return nil
        }
    }
}

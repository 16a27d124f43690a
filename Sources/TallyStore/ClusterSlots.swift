import TallyCore

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

    /// The slot of every key of poll `id` (hash tag `p:ID`, `KeySchema`).
    public static func ofPoll(_ id: PollID) -> Int { of(PollShard(poll: id)) }

    /// The slot of a poll shard's keys (hash tag `p:ID`, or `p:ID:TAG` for one of several shards),
    /// without building a key: the vote path routes by it.
    public static func of(_ shard: PollShard) -> Int {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 40) { tag in
            tag[0] = UInt8(ascii: "p")
            tag[1] = UInt8(ascii: ":")
            var length = 2 + writeDecimal(UInt64(shard.poll), into: tag, at: 2)
            if shard.tag >= 0 {
                tag[length] = UInt8(ascii: ":")
                length += 1 + writeDecimal(UInt64(shard.tag), into: tag, at: length + 1)
            }
            return Int(crc16(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(tag)[0..<length]))) & (count - 1)
        }
    }

    /// Writes `value`'s decimal digits at `start`; returns how many.
    private static func writeDecimal(_ value: UInt64, into buffer: UnsafeMutableBufferPointer<UInt8>, at start: Int) -> Int {
        var digits = 1
        var rest = value
        while rest >= 10 {
            rest /= 10
            digits += 1
        }
        rest = value
        for position in stride(from: start + digits - 1, through: start, by: -1) {
            buffer[position] = UInt8(ascii: "0") + UInt8(rest % 10)
            rest /= 10
        }
        return digits
    }

    static func crc16(_ bytes: UnsafeRawBufferPointer) -> UInt16 { CRC16.xmodem(bytes) }
}

/// Which master serves each slot, as the cluster last said (`CLUSTER SLOTS`, then redirections).
public struct SlotMap: Equatable {
    /// Every master named, "host:port"; a slot's owner is an index into it.
    public private(set) var masters: [String] = []
    /// Per slot, the index of its master in `masters`, or -1 (no master known: refresh the map).
    private var owners = [Int16](repeating: -1, count: ClusterSlot.count)

    public init() {}

    /// Every slot served by one Redis (not a cluster).
    public init(everySlotAt address: String) { assign(0...(ClusterSlot.count - 1), to: address) }

    /// From a `CLUSTER SLOTS` reply: [[start, end, [host, port, id, …] (the master), replicas…], …].
    public init?(clusterSlots reply: RedisReply) {
        guard update(clusterSlots: reply) else { return nil }
    }

    /// Takes a `CLUSTER SLOTS` reply's owners, keeping the masters already named where they are in
    /// `masters` (a loop's connections are indexed by them). False, and nothing changed, if the
    /// reply is not one or leaves a slot without a master.
    @discardableResult
    public mutating func update(clusterSlots reply: RedisReply) -> Bool {
        guard reply.isArray else { return false }
        var updated = self
        updated.owners = [Int16](repeating: -1, count: ClusterSlot.count)
        for index in 0..<reply.count {
            let range = reply[index]
            guard range.count >= 3, let start = range[0].integer, let end = range[1].integer, 0 <= start, start <= end, end < ClusterSlot.count,
                range[2].count >= 2, let host = range[2][0].string, let port = range[2][1].integer
            else { return false }
            updated.assign(Int(start)...Int(end), to: "\(host):\(port)")
        }
        guard updated.coversEverySlot || masters.isEmpty else { return false }
        self = updated
        return true
    }

    /// The master of `slot` ("host:port"), if known.
    public func master(ofSlot slot: Int) -> String? {
        owner(ofSlot: slot).map { masters[$0] }
    }

    /// The index in `masters` of `slot`'s master, if known.
    @inline(__always)
    public func owner(ofSlot slot: Int) -> Int? {
        let owner = owners[slot]
        return owner < 0 ? nil : Int(owner)
    }

    /// Whether `masters[index]` serves any slot now (a node that was a master may be a replica now).
    public func isMaster(_ index: Int) -> Bool { owners.contains(Int16(index)) }

    /// Whether every slot has a master.
    public var coversEverySlot: Bool { !owners.contains(-1) }

    /// A `MOVED`: the slot is served by `address` from now on.
    public mutating func move(slot: Int, to address: String) { assign(slot...slot, to: address) }

    /// The index of `address` in `masters`, named there if it is new.
    public mutating func name(_ address: String) -> Int {
        if let known = masters.firstIndex(of: address) { return known }
        masters.append(address)
        return masters.count - 1
    }

    private mutating func assign(_ slots: ClosedRange<Int>, to address: String) {
        let owner = Int16(name(address))
        for slot in slots { owners[slot] = owner }
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

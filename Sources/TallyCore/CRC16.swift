/// CRC16-CCITT (XMODEM): polynomial 0x1021, initial value 0, no reflection. Redis Cluster hashes
/// keys to slots with it (`ClusterSlot`), and a sharded poll picks its shards' tags by it
/// (`PollShards`).
public enum CRC16 {
    public static func xmodem(_ bytes: UnsafeRawBufferPointer) -> UInt16 {
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

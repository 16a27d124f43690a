/// Byte comparison whose time depends only on the lengths, not on where the bytes differ: for
/// secrets (organizer tokens, MACs), so timing tells an attacker nothing about a near guess.
enum ConstantTime {
    static func equals(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for index in 0..<a.count { difference |= a[index] ^ b[index] }
        return difference == 0
    }
}

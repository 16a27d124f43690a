import Foundation
import TallyBase
import TallyCore
import TallyHTTP
import Testing

@testable import TallyAPI

/// A definition's members are built once and copied after; a new definition (a new `Poll`) is
/// built again; what the members hold is the same as writing them directly.
@Suite struct DefinitionFragmentsTests {
    private func answer(_ poll: Poll, _ fragments: DefinitionFragments, builds: inout Int) -> [String: Any] {
        let buffer = ByteBuffer(capacity: 64)
        var json = JSONWriter(buffer)
        json.object { body in
            body.field("first", 1)
            fragments.members(of: poll, into: &body) { members in
                builds += 1
                members.field("question", string: poll.definition.question)
                members.field("options", poll.definition.options.count)
            }
            body.field("last", true)
        }
        return try! JSONSerialization.jsonObject(with: Data(buffer.bytes)) as! [String: Any]
    }

    @Test func membersAreBuiltOncePerDefinition() throws {
        let registry = PollRegistry(shardCount: 1, readers: 1)
        var definition = PollDefinition(question: "Encore?", options: ["yes", "no"])
        let first = try registry.install(id: 1, definition: definition, lifecycle: .open)
        let fragments = DefinitionFragments()
        var builds = 0
        for _ in 0..<3 {
            let body = answer(first, fragments, builds: &builds)
            #expect(body["first"] as? Int == 1 && body["question"] as? String == "Encore?" && body["options"] as? Int == 2 && body["last"] as? Bool == true)
        }
        #expect(builds == 1)
        definition.question = "Another \"song\"?"
        let changed = try registry.install(id: 1, definition: definition, lifecycle: .open)
        #expect(answer(changed, fragments, builds: &builds)["question"] as? String == "Another \"song\"?")
        #expect(builds == 2, "a new definition is built again")
    }
}

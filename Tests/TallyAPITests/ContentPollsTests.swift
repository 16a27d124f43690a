import Foundation
import TallyCore
import Testing

@testable import TallyAPI

@Suite struct ContentPollsTests {
    @Test func aPollsUUIDCarriesItsEngineIDAndIsAVersion8UUID() throws {
        for id: PollID in [1, 42, 0xFFFF_FFFF, ContentPollID.maxPollID] {
            let text = ContentPollID.make(for: id)
            let parsed = try #require(UUID(uuidString: text), "\(text)")
            #expect(parsed.uuidString.lowercased() == text)
            #expect(Array(text)[14] == "8" && "89ab".contains(Array(text)[19]), "version 8, variant 10: \(text)")
            #expect(ContentPollID.pollID(text) == id && ContentPollID.pollID(text.uppercased()) == id)
        }
        #expect(ContentPollID.make(for: 7) != ContentPollID.make(for: 7), "the other bits are random")
    }

    @Test func textsThatAreNotTallysUUIDsNameNoPoll() {
        for text in [
            "ee9107b5-5041-4c15-8c76-f14404fa1fad",  // version 4
            "ee9107b5-5041-8c15-cc76-f14404fa1fad",  // variant 11
            "ee9107b5-5041-8c15-8000-000000000000",  // engine id 0
            "ee9107b5-5041-8c15-8000-00000000000g", "ee9107b5-5041-8c15-8000-0000000000001", "ee9107b550418c158000000000000001", "",
        ] {
            #expect(ContentPollID.pollID(text) == nil, "\(text)")
        }
    }

    @Test func jiraIssuesNeedNoContainerAndConfluencePagesDo() {
        #expect(ContentPlace.isJiraIssue("PLAT-254604", of: "PLAT"))
        #expect(!ContentPlace.isJiraIssue("1867777", of: "98306"))
        #expect(!ContentPlace.isJiraIssue("PLAT-", of: "PLAT") && !ContentPlace.isJiraIssue("OPS-12", of: "PLAT"))
        #expect(!ContentPlace.isJiraIssue("PLAT-12a", of: "PLAT"))
    }

    /// A body's options replace the list, matched by id: kept ones stay where they were among the
    /// engine's options (their votes with them), new ones follow with the next free number.
    @Test func optionsAreMatchedByIDAndKeepTheirEngineOrder() throws {
        var poll = ContentPoll(place: ContentPlace(workspace: "P", content: "P-1", container: ""))
        try ContentPollRequest.apply(Array(#"{"title":"T","options":[{"id":"1","title":"a"},{"id":"7","title":"b"},{"title":"c"}]}"#.utf8), to: &poll)
        #expect(poll.options == [ContentOption(id: "1", title: "a", order: 0), ContentOption(id: "7", title: "b", order: 1), ContentOption(id: "8", title: "c", order: 2)])
        try ContentPollRequest.apply(Array(#"{"options":[{"id":"8","title":"C","order":0},{"title":"d","order":5},{"id":"1","title":"a","order":2}]}"#.utf8), to: &poll)
        #expect(poll.options == [ContentOption(id: "1", title: "a", order: 2), ContentOption(id: "8", title: "C", order: 0), ContentOption(id: "9", title: "d", order: 5)])
        #expect(poll.title == "T", "a field left out keeps its value")
    }

    @Test func settingsMapOntoTheEngineAndBack() throws {
        var poll = ContentPoll(place: ContentPlace(workspace: "98306", content: "1867777", container: "macro"))
        poll.id = ContentPollID.make(for: 5)
        try ContentPollRequest.apply(
            Array(#"{"title":"T","options":[{"title":"a"},{"title":"b"}],"settings":{"allowSelectionOfMultipleOptions":true,"resultsVisibility":"publicAfterEndDate","endDate":"2030-01-02T03:04:05+01:00","hideAbsoluteNumbers":true,"allowRevote":true,"saveParticipantNames":true,"closePollOnEndDate":true,"allowComment":true}}"#.utf8),
            to: &poll)
        let definition = poll.definition(createdAt: 1)
        let rules = definition.rules
        #expect(rules.maxVotes == 0 && rules.visibility == .afterClose && rules.hideCounts && rules.revote && !rules.anonymous)
        #expect(rules.closesAt == Timestamps.parse("2030-01-02T02:04:05Z") && rules.closesOnEnd)
        let registry = PollRegistry(shardCount: 1, readers: 1)
        let back = try #require(ContentPoll(try registry.install(id: 5, definition: definition, lifecycle: .open)))
        #expect(back.settings == poll.settings && back.settings.endDate == "2030-01-02T03:04:05+01:00", "the end date as it was sent")
        #expect(back.options == poll.options && back.place == poll.place && back.id == poll.id)
    }
}

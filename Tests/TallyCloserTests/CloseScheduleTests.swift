import Testing

@testable import TallyCloser

struct CloseScheduleTests {
    @Test func pollsComeDueEarliestFirst() {
        var schedule = CloseSchedule()
        for (id, closesAt) in [(1, 300), (2, 100), (3, 200), (4, 100)] { schedule.set(UInt64(id), closesAt: Int64(closesAt)) }
        #expect(schedule.nextFireAt() == 100)
        #expect(schedule.takeDue(now: 99, limit: 10).isEmpty)
        #expect(schedule.takeDue(now: 200, limit: 10).map(\.id) == [2, 4, 3])
        #expect(schedule.takeDue(now: 1_000, limit: 10).map(\.id) == [1])
        #expect(schedule.nextFireAt() == nil)
    }

    @Test func takesAtMostTheLimit() {
        var schedule = CloseSchedule()
        for id in 0..<10 { schedule.set(UInt64(id), closesAt: 5) }
        #expect(schedule.takeDue(now: 5, limit: 4).count == 4)
        #expect(schedule.takeDue(now: 5, limit: 100).count == 6)
    }

    @Test func aMovedEndDateReplacesTheOldOneAndADroppedPollNeverComes() {
        var schedule = CloseSchedule()
        schedule.set(1, closesAt: 100)
        schedule.set(2, closesAt: 100)
        schedule.set(1, closesAt: 500)
        schedule.set(2, closesAt: nil)
        schedule.set(3, closesAt: 100)
        schedule.set(3, closesAt: 100)  // the same again: still once
        #expect(schedule.takeDue(now: 400, limit: 10).map(\.id) == [3])
        #expect(schedule.takeDue(now: 500, limit: 10).map { [$0.id, UInt64($0.closesAt)] } == [[1, 500]])
    }

    @Test func aRetryComesAgainOnlyWhileThePollStillWaitsForThatEndDate() {
        var schedule = CloseSchedule()
        schedule.set(1, closesAt: 100)
        schedule.set(2, closesAt: 100)
        #expect(schedule.takeDue(now: 100, limit: 10).count == 2)
        schedule.retry(1, closesAt: 100, at: 150)
        schedule.set(2, closesAt: 900)
        schedule.retry(2, closesAt: 100, at: 150)  // moved meanwhile: the retry is void
        #expect(schedule.nextFireAt() == 150)
        #expect(schedule.takeDue(now: 200, limit: 10).map(\.id) == [1])
        schedule.finished(1, closesAt: 100)
        schedule.retry(1, closesAt: 100, at: 300)
        #expect(schedule.takeDue(now: 800, limit: 10).isEmpty)
        #expect(schedule.count == 1)
    }

    @Test func manyRandomChangesAgreeWithAPlainDictionary() {
        var schedule = CloseSchedule()
        var model: [UInt64: Int64] = [:]
        var generator = SystemRandomNumberGenerator()
        var now: Int64 = 0
        for _ in 0..<5_000 {
            let id = UInt64.random(in: 0..<50, using: &generator)
            let closesAt: Int64? = Bool.random(using: &generator) ? now + Int64.random(in: 0..<100, using: &generator) : nil
            schedule.set(id, closesAt: closesAt)
            model[id] = closesAt
            now += Int64.random(in: 0..<5, using: &generator)
            for (id, closesAt) in schedule.takeDue(now: now, limit: 1_000) {
                #expect(model[id] == closesAt && closesAt <= now)
                schedule.finished(id, closesAt: closesAt)
                model[id] = nil
            }
            #expect(!model.values.contains { $0 <= now }, "nothing due is left behind")
        }
    }
}

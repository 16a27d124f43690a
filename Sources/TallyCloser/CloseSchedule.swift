import TallyCore

/// The end dates the close worker waits for: a min-heap of firing times, with each poll's current
/// end date on the side. A poll whose end date moves gets a new entry; its old one is skipped when
/// it comes up (lazy deletion), so a change costs O(log n) and never a search.
struct CloseSchedule {
    private struct Entry {
        var fireAt: Timestamp
        var id: PollID
        var closesAt: Timestamp
        var generation: UInt64
    }

    private var heap: [Entry] = []
    /// What each scheduled poll waits for; an entry of another generation is stale (even with the
    /// same end date: moved away and back).
    private var scheduled: [PollID: (closesAt: Timestamp, generation: UInt64)] = [:]
    private var generations: UInt64 = 0

    var count: Int { scheduled.count }

    /// Schedules poll `id` to close at `closesAt`, or drops it when nil (no closing end date, not
    /// open, deleted). Scheduling the same end date again changes nothing.
    mutating func set(_ id: PollID, closesAt: Timestamp?) {
        guard scheduled[id]?.closesAt != closesAt else { return }
        guard let closesAt else { return scheduled[id] = nil }
        generations += 1
        scheduled[id] = (closesAt, generations)
        push(Entry(fireAt: closesAt, id: id, closesAt: closesAt, generation: generations))
    }

    /// Tries poll `id` again at `fireAt`, if it still waits for `closesAt`.
    mutating func retry(_ id: PollID, closesAt: Timestamp, at fireAt: Timestamp) {
        guard let current = scheduled[id], current.closesAt == closesAt else { return }
        push(Entry(fireAt: fireAt, id: id, closesAt: closesAt, generation: current.generation))
    }

    /// Poll `id` was closed at `closesAt`: forget it, unless it waits for another end date now.
    mutating func finished(_ id: PollID, closesAt: Timestamp) {
        if scheduled[id]?.closesAt == closesAt { scheduled[id] = nil }
    }

    /// When the next poll is due; nil if none is scheduled.
    mutating func nextFireAt() -> Timestamp? {
        dropStale()
        return heap.first?.fireAt
    }

    /// Takes up to `limit` polls due at `now` (id, end date), earliest first.
    mutating func takeDue(now: Timestamp, limit: Int) -> [(id: PollID, closesAt: Timestamp)] {
        var due: [(id: PollID, closesAt: Timestamp)] = []
        while due.count < limit, let next = nextFireAt(), next <= now {
            let entry = pop()
            due.append((entry.id, entry.closesAt))
        }
        return due
    }

    private mutating func dropStale() {
        while let top = heap.first, scheduled[top.id]?.generation != top.generation { _ = pop() }
    }

    private static func precedes(_ a: Entry, _ b: Entry) -> Bool { (a.fireAt, a.id) < (b.fireAt, b.id) }

    private mutating func push(_ entry: Entry) {
        heap.append(entry)
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard Self.precedes(heap[child], heap[parent]) else { break }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    private mutating func pop() -> Entry {
        let top = heap[0]
        let last = heap.removeLast()
        guard !heap.isEmpty else { return top }
        heap[0] = last
        var parent = 0
        while true {
            let left = 2 * parent + 1, right = left + 1
            var first = parent
            if left < heap.count && Self.precedes(heap[left], heap[first]) { first = left }
            if right < heap.count && Self.precedes(heap[right], heap[first]) { first = right }
            if first == parent { return top }
            heap.swapAt(parent, first)
            parent = first
        }
    }
}

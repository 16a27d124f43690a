import TallyCore

/// On a Redis Cluster, the `closed` events of polls the close script marked `eventPending`
/// (`CloseScript`): appended to `tally:closed` once each, across daemons and crashes.
///
/// The stream lives in another slot than the polls, so the event cannot be appended in the script
/// that closes the poll. Instead: read the pending polls' frozen results, append their events in one
/// script on the stream's slot that also records each (poll, closedAt) in `{tally:closed}:sent`
/// (same slot: the hash tag is the stream's name) and skips one recorded already, then clear the
/// marks. A daemon that stops between two steps leaves the mark: whoever runs the close script on
/// that poll next (another daemon at the same end date), or a daemon starting (`PollSync.loadAll`
/// reports them), appends it then, and the record keeps it from being appended twice.
public enum ClosedEvents {
    /// Hash. poll id → `closedAt` of the last event appended for it.
    public static let sent = "{\(KeySchema.closedEvents)}:sent"

    /// Appends the pending events of `ids` (polls without a mark are skipped); returns how many
    /// were appended now.
    @discardableResult
    public static func relay(_ ids: [PollID], _ redis: BlockingCluster) throws(StoreError) -> Int {
        guard !ids.isEmpty else { return 0 }
        let fields = ["eventPending", "closesAt", "closedAt", "finalVoters", "finalCounts"]
        var events: [(id: PollID, values: [String])] = []
        try redis.pipeline(ids.map { (["HMGET", KeySchema.poll($0), ] + fields, KeySchema.poll($0)) }) { index, reply in
            guard reply.count == fields.count, reply[0].string == "1" else { return }
            events.append((ids[index], (1..<fields.count).map { reply[$0].string ?? "" }))
        }
        guard !events.isEmpty else { return 0 }
        var arguments = ["EVAL", script, "2", KeySchema.closedEvents, sent, String(KeySchema.closedEventsKept)]
        for event in events { arguments += [String(event.id)] + event.values }
        let appended = try redis.command(arguments, key: KeySchema.closedEvents) { $0.integer ?? 0 }
        try redis.pipeline(events.map { (["HDEL", KeySchema.poll($0.id), "eventPending"], KeySchema.poll($0.id)) }) { _, _ in }
        return Int(appended)
    }

    /// KEYS tally:closed, {tally:closed}:sent; ARGV events kept, then per event: id, closesAt,
    /// closedAt, voters, counts. Replies how many it appended.
    static let script = """
        local appended = 0
        for n = 2, #ARGV, 5 do
          local id, closesAt, closedAt = ARGV[n], ARGV[n + 1], ARGV[n + 2]
          if redis.call('HGET', KEYS[2], id) ~= closedAt then
            redis.call('XADD', KEYS[1], '*', 'poll', id, 'closesAt', closesAt, 'closedAt', closedAt,
              'voters', ARGV[n + 3], 'counts', ARGV[n + 4])
            redis.call('HSET', KEYS[2], id, closedAt)
            appended = appended + 1
          end
        end
        if appended > 0 then redis.call('XTRIM', KEYS[1], 'MAXLEN', '~', ARGV[1]) end
        return appended
        """
}

@testable import TallyHTTP
import Testing

/// The connection's reading and closing decisions, event by event, without a socket.
@Suite struct ConnectionStateTests {
    private func reading() -> ConnectionState {
        var state = ConnectionState()
        state.accepted()
        return state
    }

    @Test func aRefusedConnectionNeverReadsAndClosesOnceItsAnswerIsWritten() {
        var state = ConnectionState()
        #expect(!state.wantsReading)
        state.failed()
        #expect(!state.wantsReading)
        #expect(state.closesOnceWritten)
    }

    @Test func aKeepAliveRequestReadsThroughoutAndStaysOpen() {
        var state = reading()
        #expect(state.wantsReading && state.isIdle)
        state.requestBegan()
        #expect(state.phase == .head && state.wantsReading && !state.isIdle)
        state.headersEnded()
        #expect(state.phase == .body && state.wantsReading)
        state.requestEnded(keepAlive: true)
        #expect(state.isIdle && state.wantsReading && !state.closesOnceWritten)
    }

    @Test func aWriteInFlightStopsReadingUntilItFinishes() {
        var state = reading()
        state.writeStarted()
        #expect(!state.wantsReading && !state.isIdle)
        state.writeFinished()
        #expect(state.wantsReading && state.isIdle)
    }

    @Test func heldBytesStopReadingUntilTheyAreParsedNotWhenAWriteFinishes() {
        var state = reading()
        state.requestEnded(keepAlive: true)
        state.deferred()
        #expect(state.wantsReading, "bytes behind a pending answer are read and held")
        state.heldFilled()
        #expect(!state.wantsReading)
        state.writeStarted()
        state.writeFinished()
        #expect(!state.wantsReading, "a write finishing must not let held bytes grow")
        state.answered()
        state.deferred()  // the held bytes held another deferred request
        state.heldParsed()
        #expect(!state.wantsReading, "bytes are still held behind the new answer")
        state.answered()
        state.heldParsed()
        #expect(state.wantsReading && state.isIdle)
    }

    @Test func aClientThatStopsSendingWhileWaitingIsAnsweredThenClosed() {
        var state = reading()
        state.requestEnded(keepAlive: true)
        state.deferred()
        let closesNow = state.inputEnded(cleanly: true)
        #expect(!closesNow, "its pending answer is still owed")
        #expect(!state.wantsReading && !state.closesOnceWritten)
        state.answered()
        state.heldParsed()
        #expect(state.closesOnceWritten)
    }

    @Test func aFailedReadClosesAtOnceUnlessAWriteIsInFlight() {
        var idle = reading()
        let idleCloses = idle.inputEnded(cleanly: false)
        #expect(idleCloses)
        var clean = reading()
        let cleanCloses = clean.inputEnded(cleanly: true)
        #expect(cleanCloses, "nothing is owed")
        var writing = reading()
        writing.writeStarted()
        let writingCloses = writing.inputEnded(cleanly: false)
        #expect(!writingCloses)
        writing.writeFinished()
        #expect(!writing.wantsReading && writing.closesOnceWritten)
    }

    @Test func aMalformedOrLateRequestStopsReadingAndClosesAfterItsError() {
        var state = reading()
        state.requestBegan()
        state.failed()
        #expect(!state.wantsReading)
        #expect(state.closesOnceWritten, "the half-read request is not waited for")
    }

    @Test func closeRequestedByTheClientClosesAfterTheAnswer() {
        var state = reading()
        state.requestBegan()
        state.requestEnded(keepAlive: false)
        #expect(state.closesOnceWritten)
    }

    @Test func aDrainLetsTheRequestInProgressArriveAndBeAnswered() {
        var state = reading()
        state.requestBegan()
        state.drained(outputPending: false)
        #expect(state.wantsReading && !state.closesOnceWritten, "its request is still arriving")
        state.headersEnded()
        state.requestEnded(keepAlive: false)
        #expect(state.closesOnceWritten)
    }

    @Test func aDrainLeavesIdleConnectionsToTheIdleDeadline() {
        var idle = reading()
        idle.drained(outputPending: false)
        #expect(!idle.closesOnceWritten)
        var pending = reading()
        pending.drained(outputPending: true)
        #expect(pending.closesOnceWritten)
        var waiting = reading()
        waiting.deferred()
        waiting.drained(outputPending: false)
        #expect(!waiting.closesOnceWritten, "its answer is owed")
        waiting.answered()
        #expect(waiting.closesOnceWritten)
    }

    @Test func aStreamThatEndsClosesAfterItsLastChunk() {
        var state = reading()
        state.streamStarted()
        #expect(!state.isIdle)
        state.streamEnded()
        #expect(state.closesOnceWritten)
    }

    @Test func aClosingConnectionNeverReads() {
        var state = reading()
        state.closed()
        #expect(!state.wantsReading)
    }
}

package contractexec

import (
	"io"
)

// readBufSize is HotPocket's READ_BUFFER_SIZE: large enough for one whole SEQPACKET.
const readBufSize = MaxPacket

// writeStdin writes the whole argument JSON and closes the pipe, from the parent, so a JSON larger
// than the pipe buffer cannot deadlock the child as it does in HotPocket. If the contract never
// reads it all, the write ends when run closes the pipe after the contract ended.
func (e *execution) writeStdin() {
	if _, err := e.stdinW.Write(e.args); err != nil {
		return
	}
	// Closing delivers EOF; run closes the file again, which is harmless.
	e.stdinW.Close()
}

// readStderr forwards stderr to Spec.Stderr and keeps its first and last StderrTailBytes.
func (e *execution) readStderr() {
	buf := make([]byte, 32<<10)
	for {
		n, err := e.stderrR.Read(buf)
		if n > 0 {
			if e.s.Stderr != nil {
				e.s.Stderr.Write(buf[:n])
			}
			if room := StderrTailBytes - len(e.stderrHead); room > 0 {
				e.stderrHead = append(e.stderrHead, buf[:min(n, room)]...)
			}
			e.stderrTail = append(e.stderrTail, buf[:n]...)
			if over := len(e.stderrTail) - StderrTailBytes; over > 0 {
				e.stderrTail = append(e.stderrTail[:0], e.stderrTail[over:]...)
			}
		}
		if err != nil {
			e.readEnded(err)
			return
		}
	}
}

// copyStdout forwards stdout to Spec.Stdout.
func (e *execution) copyStdout() {
	_, err := io.Copy(e.s.Stdout, e.stdoutR)
	e.readEnded(err)
}

// readUser collects user i's output frames until EOF or the output limit. Past the limit it closes
// the socket, as HotPocket does: the contract's further writes fail, and frames already complete
// are kept.
func (e *execution) readUser(i int) {
	f, out := e.users[i], &e.outs[i]
	limit := e.s.Limits.UserOutputBytes
	var dec frameDecoder
	buf := make([]byte, readBufSize)
	for {
		n, err := f.Read(buf)
		if n > 0 {
			dec.Write(buf[:n])
			out.Bytes += uint64(n)
			if limit > 0 && out.Bytes > limit {
				out.LimitHit = true
				f.Close()
				break
			}
		}
		if err != nil {
			e.readEnded(err)
			break
		}
	}
	out.Frames = dec.frames
	out.Incomplete = dec.incomplete()
}

// readControl collects the control packets. A packet that does not parse is logged and skipped,
// as HotPocket's parser does.
func (e *execution) readControl() {
	buf := make([]byte, readBufSize)
	for {
		n, err := e.control.Read(buf)
		if n > 0 {
			m, perr := ParseControlMessage(buf[:n])
			if perr != nil {
				e.log.Warn("contract control message ignored", "err", perr, "bytes", n)
			} else {
				e.controlMsgs = append(e.controlMsgs, m)
			}
		}
		if err != nil {
			e.readEnded(err)
			return
		}
	}
}

// readNPL collects the NPL messages the contract sends, one per packet, and hands each to
// Spec.NPLOut. Past Limits.NPLOutputBytes it closes the NPL socket (so incoming NPL stops too, as
// in HotPocket) and does not send the message that crossed the limit.
func (e *execution) readNPL() {
	limit := e.s.Limits.NPLOutputBytes
	var total uint64
	buf := make([]byte, readBufSize)
	for {
		n, err := e.npl.Read(buf)
		if n > 0 {
			total += uint64(n)
			if limit > 0 && total > limit {
				e.nplLimitHit = true
				e.npl.Close()
				return
			}
			msg := append([]byte(nil), buf[:n]...)
			e.nplSent = append(e.nplSent, msg)
			if e.s.NPLOut != nil {
				e.s.NPLOut(msg)
			}
		}
		if err != nil {
			e.readEnded(err)
			return
		}
	}
}

// writeNPL delivers the inbox to the contract: for each message one packet with the sender's key hex
// and one with the data, HotPocket's framing. Messages pushed before the contract started are
// already queued and go first. It ends when stop is closed or the socket fails.
func (e *execution) writeNPL(stop <-chan struct{}) {
	in := e.s.NPLIn
	for {
		for _, m := range in.take() {
			if _, err := e.npl.Write([]byte(m.From)); err != nil {
				e.nplDropped++
				continue
			}
			if _, err := e.npl.Write(m.Data); err != nil {
				e.nplDropped++
			}
		}
		select {
		case <-stop:
			return
		case <-in.notify:
		}
	}
}

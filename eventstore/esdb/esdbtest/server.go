// Package esdbtest is an in-process EventStoreDB for tests: a gRPC server
// on the client module's generated streams service that implements the
// part of the protocol the esdb adapter uses — Append with expected
// revisions, Read forwards of a stream and of $all, and catch-up
// subscriptions — with EventStoreDB's documented semantics for revisions
// and errors. It keeps everything in memory. It is not EventStoreDB: the
// adapter's behaviour against a real KurrentDB is checked with
// AUTHLEDGER_TEST_ESDB_URL (docs/esdb.md).
package esdbtest

import (
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/protos/shared"
	api "github.com/EventStore/EventStore-Client-Go/v4/protos/streams"
	"github.com/google/uuid"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

type event struct {
	id       uuid.UUID
	stream   string
	revision uint64
	commit   uint64 // the $all position: strictly increasing, with gaps
	meta     map[string]string
	custom   []byte
	data     []byte
}

// Server is one in-memory node.
type Server struct {
	api.UnimplementedStreamsServer

	mu      sync.Mutex
	streams map[string][]*event
	all     []*event
	changed chan struct{} // closed and replaced on every append
	// failAppends makes the next n appends fail with Unavailable, as a node
	// losing leadership does.
	failAppends int

	addr string
	lis  net.Listener
	grpc *grpc.Server
}

// Start serves on a free loopback port until Stop.
func Start() (*Server, error) {
	s := &Server{streams: map[string][]*event{}, changed: make(chan struct{})}
	if err := s.listen("127.0.0.1:0"); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Server) listen(addr string) error {
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	g := grpc.NewServer()
	api.RegisterStreamsServer(g, s)
	s.lis, s.grpc, s.addr = lis, g, lis.Addr().String()
	go func() { _ = g.Serve(lis) }()
	return nil
}

// URL is the connection string for the adapter: plaintext, one node.
func (s *Server) URL() string { return "esdb://" + s.addr + "?tls=false" }

// Stop ends every call and closes the port; the data stays.
func (s *Server) Stop() { s.grpc.Stop() }

// Restart stops the server and serves the same data on the same port
// again, as a node restart does: open subscriptions drop and clients
// reconnect.
func (s *Server) Restart() error {
	s.grpc.Stop()
	var err error
	for range 50 { // the port may linger for a moment
		if err = s.listen(s.addr); err == nil {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return err
}

// FailAppends makes the next n appends answer Unavailable.
func (s *Server) FailAppends(n int) {
	s.mu.Lock()
	s.failAppends = n
	s.mu.Unlock()
}

// Len is the number of events in the stream.
func (s *Server) Len(stream string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.streams[stream])
}

func (s *Server) Append(srv api.Streams_AppendServer) error {
	first, err := srv.Recv()
	if err != nil {
		return err
	}
	opts := first.GetOptions()
	if opts == nil {
		return status.Error(codes.InvalidArgument, "the first message of an append must be its options")
	}
	stream := string(opts.GetStreamIdentifier().GetStreamName())
	if stream == "" {
		return status.Error(codes.InvalidArgument, "empty stream name")
	}
	var proposed []*api.AppendReq_ProposedMessage
	for {
		m, err := srv.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		pm := m.GetProposedMessage()
		if pm == nil {
			return status.Error(codes.InvalidArgument, "only proposed messages may follow the options")
		}
		proposed = append(proposed, pm)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failAppends > 0 {
		s.failAppends--
		return status.Error(codes.Unavailable, "leader lost")
	}
	cur := s.streams[stream]
	if wev := checkExpected(opts, cur); wev != nil {
		return srv.SendAndClose(&api.AppendResp{Result: &api.AppendResp_WrongExpectedVersion_{WrongExpectedVersion: wev}})
	}
	created := strconv.FormatInt(time.Now().UnixNano()/100, 10) // .NET ticks since the Unix epoch
	for _, pm := range proposed {
		id, err := protoUUID(pm.GetId())
		if err != nil {
			return status.Error(codes.InvalidArgument, err.Error())
		}
		meta := map[string]string{"created": created}
		for k, v := range pm.GetMetadata() {
			meta[k] = v
		}
		e := &event{id: id, stream: stream, revision: uint64(len(s.streams[stream])), meta: meta,
			custom: append([]byte(nil), pm.GetCustomMetadata()...), data: append([]byte(nil), pm.GetData()...)}
		// $all positions grow by more than one, as log offsets do, so a
		// client that treats them as a dense sequence is caught.
		e.commit = uint64(len(s.all))*7 + 100
		s.streams[stream] = append(s.streams[stream], e)
		s.all = append(s.all, e)
	}
	close(s.changed)
	s.changed = make(chan struct{})
	last := s.streams[stream]
	success := &api.AppendResp_Success{}
	if len(last) == 0 {
		success.CurrentRevisionOption = &api.AppendResp_Success_NoStream{NoStream: &shared.Empty{}}
		success.PositionOption = &api.AppendResp_Success_NoPosition{NoPosition: &shared.Empty{}}
	} else {
		l := last[len(last)-1]
		success.CurrentRevisionOption = &api.AppendResp_Success_CurrentRevision{CurrentRevision: l.revision}
		success.PositionOption = &api.AppendResp_Success_Position{Position: &api.AppendResp_Position{CommitPosition: l.commit, PreparePosition: l.commit}}
	}
	return srv.SendAndClose(&api.AppendResp{Result: &api.AppendResp_Success_{Success: success}})
}

// checkExpected applies EventStoreDB's rules: a revision must equal the
// stream's last revision, NoStream needs an absent stream, StreamExists a
// present one, Any always holds.
func checkExpected(opts *api.AppendReq_Options, cur []*event) *api.AppendResp_WrongExpectedVersion {
	wev := &api.AppendResp_WrongExpectedVersion{}
	if len(cur) == 0 {
		wev.CurrentRevisionOption = &api.AppendResp_WrongExpectedVersion_CurrentNoStream{CurrentNoStream: &shared.Empty{}}
	} else {
		wev.CurrentRevisionOption = &api.AppendResp_WrongExpectedVersion_CurrentRevision{CurrentRevision: uint64(len(cur) - 1)}
	}
	switch e := opts.GetExpectedStreamRevision().(type) {
	case *api.AppendReq_Options_Any:
		return nil
	case *api.AppendReq_Options_NoStream:
		if len(cur) == 0 {
			return nil
		}
		wev.ExpectedRevisionOption = &api.AppendResp_WrongExpectedVersion_ExpectedNoStream{ExpectedNoStream: &shared.Empty{}}
	case *api.AppendReq_Options_StreamExists:
		if len(cur) > 0 {
			return nil
		}
		wev.ExpectedRevisionOption = &api.AppendResp_WrongExpectedVersion_ExpectedStreamExists{ExpectedStreamExists: &shared.Empty{}}
	case *api.AppendReq_Options_Revision:
		if len(cur) > 0 && e.Revision == uint64(len(cur)-1) {
			return nil
		}
		wev.ExpectedRevisionOption = &api.AppendResp_WrongExpectedVersion_ExpectedRevision{ExpectedRevision: e.Revision}
	default:
		return nil
	}
	return wev
}

func protoUUID(u *shared.UUID) (uuid.UUID, error) {
	if st := u.GetStructured(); st != nil {
		var b [16]byte
		for i := range 8 {
			b[i] = byte(uint64(st.GetMostSignificantBits()) >> (56 - 8*i))
			b[8+i] = byte(uint64(st.GetLeastSignificantBits()) >> (56 - 8*i))
		}
		return uuid.UUID(b), nil
	}
	return uuid.Parse(u.GetString_())
}

func toProto(e *event) *api.ReadResp {
	re := &api.ReadResp_ReadEvent_RecordedEvent{
		Id:               &shared.UUID{Value: &shared.UUID_String_{String_: e.id.String()}},
		StreamIdentifier: &shared.StreamIdentifier{StreamName: []byte(e.stream)},
		StreamRevision:   e.revision,
		PreparePosition:  e.commit,
		CommitPosition:   e.commit,
		Metadata:         e.meta,
		CustomMetadata:   e.custom,
		Data:             e.data,
	}
	return &api.ReadResp{Content: &api.ReadResp_Event{Event: &api.ReadResp_ReadEvent{
		Event:    re,
		Position: &api.ReadResp_ReadEvent_CommitPosition{CommitPosition: e.commit},
	}}}
}

func (s *Server) Read(req *api.ReadReq, srv api.Streams_ReadServer) error {
	o := req.GetOptions()
	if o.GetReadDirection() != api.ReadReq_Options_Forwards {
		return status.Error(codes.Unimplemented, "esdbtest reads forwards only")
	}
	// from selects the events after the requested start; next says how far
	// a read has got, so a subscription continues from there.
	var from func() []*event
	switch so := o.GetStreamOption().(type) {
	case *api.ReadReq_Options_Stream:
		name := string(so.Stream.GetStreamIdentifier().GetStreamName())
		start := uint64(0)
		subscription := o.GetSubscription() != nil
		switch r := so.Stream.GetRevisionOption().(type) {
		case *api.ReadReq_Options_StreamOptions_Revision:
			// A read starts at the revision; a subscription starts after it.
			start = r.Revision
			if subscription {
				start++
			}
		case *api.ReadReq_Options_StreamOptions_End:
			s.mu.Lock()
			start = uint64(len(s.streams[name]))
			s.mu.Unlock()
		}
		if !subscription {
			s.mu.Lock()
			evs := s.streams[name]
			s.mu.Unlock()
			if len(evs) == 0 {
				return srv.Send(&api.ReadResp{Content: &api.ReadResp_StreamNotFound_{StreamNotFound: &api.ReadResp_StreamNotFound{
					StreamIdentifier: &shared.StreamIdentifier{StreamName: []byte(name)}}}})
			}
		}
		next := start
		from = func() []*event {
			evs := s.streams[name]
			if next >= uint64(len(evs)) {
				return nil
			}
			out := evs[next:]
			next = uint64(len(evs))
			return out
		}
	case *api.ReadReq_Options_All:
		after, inclusive := uint64(0), true
		switch p := so.All.GetAllOption().(type) {
		case *api.ReadReq_Options_AllOptions_Position:
			after, inclusive = p.Position.GetCommitPosition(), o.GetSubscription() == nil
		case *api.ReadReq_Options_AllOptions_End:
			s.mu.Lock()
			if n := len(s.all); n > 0 {
				after, inclusive = s.all[n-1].commit, false
			}
			s.mu.Unlock()
		}
		idx := 0
		from = func() []*event {
			for idx < len(s.all) && (s.all[idx].commit < after || (!inclusive && s.all[idx].commit == after)) {
				idx++
			}
			out := s.all[idx:]
			idx = len(s.all)
			return out
		}
	default:
		return status.Error(codes.InvalidArgument, "no stream option")
	}

	if o.GetSubscription() == nil {
		limit := o.GetCount()
		s.mu.Lock()
		evs := append([]*event(nil), from()...)
		s.mu.Unlock()
		for i, e := range evs {
			if limit > 0 && uint64(i) >= limit {
				break
			}
			if err := srv.Send(toProto(e)); err != nil {
				return err
			}
		}
		return nil
	}

	if err := srv.Send(&api.ReadResp{Content: &api.ReadResp_Confirmation{Confirmation: &api.ReadResp_SubscriptionConfirmation{SubscriptionId: uuid.NewString()}}}); err != nil {
		return err
	}
	caughtUp := false
	for {
		s.mu.Lock()
		evs := append([]*event(nil), from()...)
		changed := s.changed
		s.mu.Unlock()
		for _, e := range evs {
			if err := srv.Send(toProto(e)); err != nil {
				return err
			}
		}
		if !caughtUp {
			caughtUp = true
			if err := srv.Send(&api.ReadResp{Content: &api.ReadResp_CaughtUp_{CaughtUp: &api.ReadResp_CaughtUp{}}}); err != nil {
				return err
			}
		}
		select {
		case <-changed:
		case <-srv.Context().Done():
			return status.FromContextError(srv.Context().Err()).Err()
		}
	}
}

// String names the server for test logs.
func (s *Server) String() string { return fmt.Sprintf("esdbtest %s", s.addr) }

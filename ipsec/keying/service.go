package keying

import (
	"context"
	"log/slog"
	"net/netip"
	"time"

	"github.com/peregrine-net/peregrine/fib"
	"github.com/peregrine-net/peregrine/ipsec/ike"
)

// FIB is where the Service pushes the merged configuration
// (*fib.Reconciler).
type FIB interface {
	SetConfig(fib.Config)
}

// AckingFIB is a FIB that says when its dataplane has installed a
// config's tunnels (*fib.Reconciler's SetConfigThen). With one, the
// make-before-break timers count from that install; without, from the
// child's creation and its delete.
type AckingFIB interface {
	FIB
	SetConfigThen(c fib.Config, applied func())
}

// ChildControl is what the Service asks of the engine (*ike.Engine).
type ChildControl interface {
	Rekey(inSPI uint32) error
	DeleteChild(inSPI uint32) error
}

// Control runs f on the engine's goroutine and waits for it
// (ike.Runner.Do, through RunnerControl).
type Control func(ctx context.Context, f func(ChildControl)) error

// RunnerControl is the Control of an IKE runner.
func RunnerControl(r *ike.Runner) Control {
	return func(ctx context.Context, f func(ChildControl)) error {
		return r.Do(ctx, func(e *ike.Engine) { f(e) })
	}
}

// Options configure a Service.
type Options struct {
	// Logger receives child SA and limit lines. Default: discard.
	Logger *slog.Logger
	// FIB receives the merged configuration; nil with dataplane backend
	// "none" (the Service then only runs the lifecycle).
	FIB FIB
	// Remotes names each IKE peer's remote PE address: a peer's tunnel is
	// keyed by it, whatever address the peer's packets come from (NAT).
	Remotes map[string]netip.Addr
	// ReplayWindow is the inbound SAs' anti-replay window.
	ReplayWindow int
	// Counters are the dataplane's SA counters, for byte and sequence
	// limits; nil if the dataplane keeps none (no limits are enforced
	// then but the engine's hard lifetime).
	Counters fib.Counterer
	// Control reaches the engine, for rekeys and deletes at limits; nil
	// before there is an engine (no limits are enforced either).
	Control Control
	// OutSwitchDelay is how long a rekeyed child's new outbound SA waits
	// before it seals, counted from when our FIB installed the child
	// (AckingFIB): a peer may answer a CREATE_CHILD_SA before its own
	// dataplane has the new inbound SA, and packets sealed with the new
	// SA in that gap would be dropped as of an unknown SPI (RFC 7296
	// section 2.8 leaves the switch to each side). The peer's delay is
	// not ours to know; a Peregrine peer answers only once its FIB
	// installed the child (WaitInstalled). Default 500ms.
	OutSwitchDelay time.Duration
	// RetireGrace is how long a rekeyed-away child's inbound SA keeps
	// opening after its DELETE (after our FIB installed the config
	// without it sealing, with an AckingFIB): the peer may have sealed
	// packets with it that are still on their way. Default 2s.
	RetireGrace time.Duration
	// InstallTimeout bounds how long the IKE runner waits for our FIB to
	// install a new child before its response leaves (WaitInstalled,
	// ike.Runner.AwaitInstalled); past it the response is withheld and
	// the peer's retransmission answered. Default 1s.
	InstallTimeout time.Duration
	// LimitInterval is how often the counters are compared with the
	// limits. Default 1s.
	LimitInterval time.Duration
	// Attachments are the IKE peers that are IPsec attachments, by
	// name (Attachments builds it): their children become the FIB's
	// Attachments, not Tunnels.
	Attachments map[string]AttachmentPeer
	// OnAttached, if set, is given the site prefixes of the up
	// attachments by VRF whenever they change (bgp exports them). It
	// runs on Run's goroutine: it must not wait for the Service.
	OnAttached func(map[string][]netip.Prefix)
}

// Service is the keying service; see the package doc. Its methods are
// safe from any goroutine; those other than Run wait for Run to have
// handled them, and return at once once Run has ended.
type Service struct {
	log  *slog.Logger
	opts Options
	in   chan func(*state)
	done chan struct{}
}

// state is owned by Run's goroutine.
type state struct {
	static fib.Config
	childs map[peerKey]map[uint32]*child // peer -> inbound SPI -> child
	// attached is the up attachments' site prefixes by VRF, as last
	// given to Options.OnAttached.
	attached map[string][]netip.Prefix
	// ctx is Run's: it bounds what the Service asks of the engine.
	ctx context.Context
}

// peerKey names a peer whose children make one tunnel or attachment: a
// remote PE by its address, an attachment by its name, a pool's host by
// the pool's name and the host's leased address.
type peerKey struct {
	remote netip.Addr
	att    string
	host   netip.Addr
}

type child struct {
	sa ike.ChildSA
	// softSent is set once a rekey was asked for at a soft byte or
	// packet limit.
	softSent bool
	// retired is set when the engine deleted the child, or when it
	// reached a hard limit and is being deleted: it seals nothing more,
	// and its inbound SA still opens for RetireGrace after the delete,
	// for packets already on their way.
	retired bool
	// installed is when the FIB installed the child (AckingFIB), or its
	// creation with a FIB that does not say; zero until then. Its
	// outbound SA seals OutSwitchDelay after.
	installed time.Time
	// ready is closed once the FIB installed the child (WaitInstalled).
	ready chan struct{}
}

// New returns a Service; it does nothing until Run runs.
func New(opts Options) *Service {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.OutSwitchDelay == 0 {
		opts.OutSwitchDelay = 500 * time.Millisecond
	}
	if opts.RetireGrace == 0 {
		opts.RetireGrace = 2 * time.Second
	}
	if opts.InstallTimeout == 0 {
		opts.InstallTimeout = time.Second
	}
	if opts.LimitInterval == 0 {
		opts.LimitInterval = time.Second
	}
	return &Service{log: opts.Logger, opts: opts, in: make(chan func(*state)), done: make(chan struct{})}
}

// Run owns the Service's state until ctx ends, running what the other
// methods, its timers and its limit ticker hand it. Nothing is pushed
// before the first SetStatic or child SA.
func (s *Service) Run(ctx context.Context) error {
	defer close(s.done)
	st := &state{childs: map[peerKey]map[uint32]*child{}, ctx: ctx}
	var tick <-chan time.Time
	if s.opts.Counters != nil && s.opts.Control != nil {
		t := time.NewTicker(s.opts.LimitInterval)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case f := <-s.in:
			f(st)
		case now := <-tick:
			s.checkLimits(st, s.opts.Counters.Stats().SAs, now)
		}
	}
}

// do runs f on Run's goroutine and waits for it; false if Run has ended.
func (s *Service) do(f func(*state)) bool {
	done := make(chan struct{})
	select {
	case s.in <- func(st *state) { f(st); close(done) }:
		<-done
		return true
	case <-s.done:
		return false
	}
}

// after runs f on Run's goroutine d from now, unless Run has ended.
func (s *Service) after(d time.Duration, f func(*state)) {
	time.AfterFunc(d, func() {
		select {
		case s.in <- f:
		case <-s.done:
		}
	})
}

// SetStatic sets the configuration file's part of the FIB config, at
// start and on each reload, and pushes the merge.
func (s *Service) SetStatic(fc fib.Config) {
	s.do(func(st *state) {
		st.static = fc
		s.push(st)
	})
}

// config returns the merged configuration as of now (for tests): what
// the FIB was last given, but for an outbound switch whose delay has just
// passed.
func (s *Service) config() fib.Config {
	var fc fib.Config
	s.do(func(st *state) { fc = s.fibConfig(st, time.Now()) })
	return fc
}

// push hands the FIB the static config plus one tunnel per IKE peer with
// a child SA.
func (s *Service) push(st *state) { s.pushThen(st, nil) }

// pushThen pushes, and runs then on Run's goroutine once the FIB has
// installed what it was given (AckingFIB), or at once with a FIB that
// does not say.
func (s *Service) pushThen(st *state, then func(*state)) {
	fc := s.fibConfig(st, time.Now())
	switch f := s.opts.FIB.(type) {
	case AckingFIB:
		if then == nil {
			f.SetConfig(fc)
			break
		}
		// On the FIB's goroutine: hand then to Run, never wait for it.
		acked := then
		f.SetConfigThen(fc, func() { s.after(0, acked) })
		then = nil
	case nil:
	default:
		f.SetConfig(fc)
	}
	s.announce(st, fc.Attachments)
	if then != nil {
		then(st)
	}
}

// fibAcks says whether the FIB says when it installed a config.
func (s *Service) fibAcks() bool {
	_, ok := s.opts.FIB.(AckingFIB)
	return ok
}

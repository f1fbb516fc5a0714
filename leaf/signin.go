package leaf

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/knot-dev/knot/models"
)

// Refusal says why a leaf refused a sign-in. The leaf decides what
// happened; how to answer (the HTTP status, the metrics outcome) is the
// caller's choice.
type Refusal int

const (
	// BadCredentials: the email or password is wrong, by the origin's
	// verdict or by the offline copy's.
	BadCredentials Refusal = iota + 1
	// Disabled: the account may not sign in here. It is disabled on this
	// leaf, or the origin said no to the account itself (disabled there,
	// or not the owner of the leaf's token where only the owner may).
	Disabled
	// Throttled: the origin holds back sign-ins for a while (RetryAfter).
	Throttled
	// RequestRefused: the origin is up but refused the request itself (too
	// large, malformed); the message is the origin's.
	RequestRefused
	// OfflineUnknown: the origin is away, and the person has not signed in
	// here through it within OfflineWindow.
	OfflineUnknown
	// NotLinked: the origin answers but will not serve this leaf: it
	// rejected the token, leaf nodes are disabled on it, or it speaks
	// another protocol version (SignInError.State says which).
	NotLinked
)

var refusalNames = map[Refusal]string{
	BadCredentials: "bad credentials", Disabled: "disabled", Throttled: "throttled",
	RequestRefused: "request refused", OfflineUnknown: "offline and unknown", NotLinked: "not linked",
}

func (r Refusal) String() string {
	if name, ok := refusalNames[r]; ok {
		return name
	}
	return fmt.Sprintf("Refusal(%d)", int(r))
}

// SignInError is a refused sign-in on a leaf: why, and the message to show
// beside the form.
type SignInError struct {
	Refusal Refusal
	Message string
	// RetryAfter is how long a Throttled sign-in should wait.
	RetryAfter time.Duration
	// State is the link's state when the Refusal is NotLinked.
	State State
}

func (e *SignInError) Error() string { return e.Message }

// Messages a person sees when a sign-in on the leaf is refused.
const (
	MsgBadCredentials = "The email or password is incorrect."
	msgDisabledHere   = "This account is disabled on this leaf. Ask the leaf's administrator to enable it."
	MsgOfflineUnknown = "The cluster cannot be reached right now. While it is away, only people who signed in on this leaf in the last 14 days can sign in."
	// The sign-in page is for visitors: no origin address or settings
	// here; the signed-in status page has the detail.
	msgNotLinked = "Signing in through the cluster is not possible right now: this leaf is not connected to it. Ask the leaf's administrator to check its status."
)

var (
	errBadCredentials = &SignInError{Refusal: BadCredentials, Message: MsgBadCredentials}
	errDisabledHere   = &SignInError{Refusal: Disabled, Message: msgDisabledHere}
	errOfflineUnknown = &SignInError{Refusal: OfflineUnknown, Message: MsgOfflineUnknown}
)

// SignIn forwards a sign-in to the origin. When the origin accepts, the
// leaf keeps a local copy of the user (with a bcrypt of this password for
// offline use) and returns it. When the origin is unreachable, a user who
// signed in here through the origin within OfflineWindow may sign in with
// the same password. When the origin says no, the answer is no. A refusal
// is a *SignInError.
func (s *Service) SignIn(ctx context.Context, email, password string) (*models.User, error) {
	// What is not an address reaches no account here or on the origin: it
	// is not sent there.
	email, msg := models.NormalizeEmail(email)
	if msg != "" || password == "" {
		return nil, errBadCredentials
	}
	if s.linkDown() {
		// The live link is down and retrying by itself (within seconds):
		// do not make a person wait on an origin that is known to be away.
		return s.offlineSignIn(ctx, email, password)
	}
	ans, err := s.cl().Authenticate(ctx, email, password)
	if err != nil {
		return s.originSaidNo(ctx, email, password, err)
	}
	ou := ans.User
	// The old offline copy goes now (the password may have changed); the
	// new one is made after the answer, off the request path: the origin's
	// bcrypt is the one a person waits for.
	loginAt := s.clock.Now().UTC().Truncate(time.Microsecond)
	u, err := models.UpsertOriginUser(ctx, s.db, models.OriginUser{
		ID: ou.ID, Username: ou.Username, Email: ou.Email, Roles: ou.Roles, Permissions: ou.Permissions,
	}, "", loginAt)
	if err != nil {
		return nil, err
	}
	s.background.Go(func() { s.keepOfflinePassword(u.ID, loginAt, password, ans.PasswordCost) })
	if !s.Status().Healthy() {
		s.wake()
	}
	if !u.Active {
		return nil, errDisabledHere
	}
	return u, nil
}

// originSaidNo turns a failed Authenticate into the sign-in's answer.
func (s *Service) originSaidNo(ctx context.Context, email, password string, err error) (*models.User, error) {
	var oe *OriginError
	if !errors.As(err, &oe) {
		return nil, err
	}
	switch {
	case requestRefused(oe):
		// The origin is up and said the request itself was wrong (too
		// large, malformed): that is nothing to do with the link, and
		// nothing a visitor's sign-in may use to flip the leaf's status.
		return nil, &SignInError{Refusal: RequestRefused, Message: "The cluster could not check this sign-in: " + originMessage(oe, http.StatusText(oe.Status))}
	case oe.Status == http.StatusTooManyRequests:
		secs := max(int(oe.RetryAfter.Seconds()), 1)
		return nil, &SignInError{Refusal: Throttled, RetryAfter: oe.RetryAfter,
			Message: fmt.Sprintf("Too many sign-in attempts. Try again in %d seconds.", secs)}
	case oe.Code == CodeLoginRefused:
		if err := models.ForgetOfflinePassword(ctx, s.db, email); err != nil {
			s.log.Error("forget the offline password of a refused sign-in", "err", err)
		}
		refusal := BadCredentials
		if oe.Status == http.StatusForbidden {
			refusal = Disabled
		}
		return nil, &SignInError{Refusal: refusal, Message: originMessage(oe, MsgBadCredentials)}
	case oe.State == StateUnreachable, oe.State == StateUntrustedCertificate:
		// An origin whose certificate does not verify never saw the
		// password: for signing in it is as good as away.
		s.failed(err)
		return s.offlineSignIn(ctx, email, password)
	default:
		// The origin is there but will not serve this leaf: no offline
		// fallback, since the origin may have cut this leaf off on purpose.
		s.failed(err)
		return nil, &SignInError{Refusal: NotLinked, State: oe.State, Message: msgNotLinked}
	}
}

// originMessage is the origin's own words for a person, or fallback when
// it sent none or more than fits beside a form.
func originMessage(oe *OriginError, fallback string) string {
	if oe.Message == "" || len(oe.Message) > 300 {
		return fallback
	}
	return oe.Message
}

// linkDown reports whether the link to the origin has failed since it last
// worked: then sign-ins are checked offline at once.
func (s *Service) linkDown() bool {
	s.failMu.Lock()
	down := s.failures > 0
	s.failMu.Unlock()
	// Only an origin that is away (or whose certificate fails, so that it
	// never sees a password) allows offline sign-in. One that said no (a
	// rejected token, leaf nodes disabled) must be asked again, and its
	// refusal stands.
	st := s.Status().State
	return down && (st == StateUnreachable || st == StateUntrustedCertificate)
}

// requestRefused reports whether the origin answered a sign-in check with a
// client error about the request itself, rather than a verdict on the
// credentials or a problem with the link or the token.
func requestRefused(oe *OriginError) bool {
	if oe.Status < 400 || oe.Status > 499 || oe.Code != "" {
		return false
	}
	switch oe.Status {
	case http.StatusUnauthorized, http.StatusNotFound, http.StatusRequestTimeout, http.StatusTooManyRequests:
		return false
	}
	return true
}

// keepOfflinePassword stores this leaf's own bcrypt of a password the
// origin accepted, at no lower a cost than the origin's, for offline sign-in.
func (s *Service) keepOfflinePassword(userID uint, loginAt time.Time, password string, cost int) {
	hash, err := models.HashPasswordCost(password, cost)
	if err == nil {
		err = models.SetOfflinePassword(context.Background(), s.db, userID, loginAt, hash)
	}
	if err != nil {
		s.log.Error("keep the offline copy of a password the origin accepted", "user_id", userID, "err", err)
	}
}

// WaitBackground waits for work started after a sign-in (the offline
// password copy) to finish.
func (s *Service) WaitBackground() { s.background.Wait() }

func (s *Service) offlineSignIn(ctx context.Context, email, password string) (*models.User, error) {
	u, err := models.OfflineSignInCandidate(ctx, s.db, email, s.clock.Now().Add(-OfflineWindow))
	u, err = models.CheckSignIn(u, err, password, func(u *models.User) string { return u.OfflinePasswordHash },
		models.SignInRefusals{Unknown: errOfflineUnknown, BadPassword: errBadCredentials, Inactive: errDisabledHere})
	if err != nil {
		return nil, err
	}
	s.log.Info("signed in while the origin is unreachable", "user_id", u.ID)
	return u, nil
}

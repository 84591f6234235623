// Package events turns the change log's changes into webhook events and
// delivers them: the events are written to the store's outbox in the same
// transaction as the changes (Build, given to dirsync.Options.Events), and
// a Deliverer posts them, signed, with retries, at least once. It imports
// the root package, config and apijson only.
package events

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/ldapbridge/ldapbridge"
	"github.com/ldapbridge/ldapbridge/apijson"
	"github.com/ldapbridge/ldapbridge/config"
)

// Headers of every delivery.
const (
	HeaderEvent     = "Ldapbridge-Event"
	HeaderDelivery  = "Ldapbridge-Delivery"
	HeaderSignature = "Ldapbridge-Signature"
)

// Body is the JSON posted for one event.
type Body struct {
	// ID is the delivery id, the same on every retry (Ldapbridge-Delivery).
	ID   string    `json:"id"`
	Type string    `json:"type"`
	Time time.Time `json:"time"`
	// Source is sync, login or admin.
	Source string `json:"source"`
	// RunID is the sync run (0 for a login).
	RunID int64 `json:"run_id"`
	// User is the user as `users show --json` prints it when the change
	// carries the record, else just its username and dn; null for group
	// events.
	User   any      `json:"user"`
	Group  *Group   `json:"group"`
	Fields []string `json:"fields"`
	Reason string   `json:"reason"`
}

// Group names the group of a group or membership event.
type Group struct {
	Name string `json:"name"`
	DN   string `json:"dn"`
}

// Build returns the function that turns changes into outbox events, one
// per change and webhook that wants its type; nil when no webhook is
// configured.
func Build(cfg config.Events) func(cs []*ldapbridge.Change) []*ldapbridge.OutboxEvent {
	if len(cfg.Webhooks) == 0 {
		return nil
	}
	hooks := cfg.Webhooks
	return func(cs []*ldapbridge.Change) []*ldapbridge.OutboxEvent {
		var out []*ldapbridge.OutboxEvent
		for _, c := range cs {
			typ := c.EventType()
			for _, w := range hooks {
				if !w.Wants(typ) {
					continue
				}
				id := NewID()
				body, err := json.Marshal(BodyOf(id, c))
				if err != nil {
					continue // a Body always marshals; nothing to send otherwise
				}
				out = append(out, &ldapbridge.OutboxEvent{DeliveryID: id, Target: w.URL, Type: typ, Body: body})
			}
		}
		return out
	}
}

// BodyOf is the event body of change c with delivery id id.
func BodyOf(id string, c *ldapbridge.Change) Body {
	b := Body{ID: id, Type: c.EventType(), Time: c.At.UTC(), Source: c.Source, RunID: c.RunID, Fields: c.Fields, Reason: c.Reason}
	if b.Fields == nil {
		b.Fields = []string{}
	}
	switch {
	case c.Record != nil:
		b.User = apijson.NewUserDetail(c.Record)
	case c.User != "":
		dn := c.DN
		if c.Kind == ldapbridge.ChangeMembership {
			dn = ""
		}
		b.User = map[string]string{"username": c.User, "dn": dn}
	}
	if c.Group != "" {
		g := &Group{Name: c.Group}
		if c.Kind == ldapbridge.ChangeGroup {
			g.DN = c.DN
		}
		b.Group = g
	}
	return b
}

// NewID returns a new random delivery id.
func NewID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return "evt_" + hex.EncodeToString(b[:])
}

// Sign returns the Ldapbridge-Signature value of body: "sha256=" and the
// hex HMAC-SHA256 of the raw body keyed with secret.
func Sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Verify reports whether signature is body's signature with secret, in
// constant time: what a receiver does.
func Verify(secret string, body []byte, signature string) bool {
	return hmac.Equal([]byte(Sign(secret, body)), []byte(signature))
}

// Metrics is what a Deliverer counts into (*metrics.Metrics fits).
type Metrics interface {
	ObserveDelivery(result string)
	SetOutbox(counts map[string]int64)
}

// Deliverer posts the outbox's due events to their webhooks.
type Deliverer struct {
	Store ldapbridge.Outbox
	// Webhooks returns the configured webhooks (the current configuration,
	// read at each attempt, so a reload's secrets apply).
	Webhooks func() config.Events
	Client   *http.Client
	Logger   *slog.Logger
	Metrics  Metrics
	Now      func() time.Time
	// Backoff is the first retry's delay, doubled at each attempt up to
	// an hour (default 5s).
	Backoff time.Duration
	// Poll is how often the outbox is read for due events (default 1s).
	Poll time.Duration
	// Batch is how many due events one read takes (default 20).
	Batch int
}

func (d *Deliverer) defaults() {
	if d.Client == nil {
		d.Client = &http.Client{Timeout: 10 * time.Second}
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Backoff <= 0 {
		d.Backoff = 5 * time.Second
	}
	if d.Poll <= 0 {
		d.Poll = time.Second
	}
	if d.Batch <= 0 {
		d.Batch = 20
	}
}

// Run delivers until ctx ends; it returns when ctx ends (after the
// delivery in flight, whose request ctx cancels).
func (d *Deliverer) Run(ctx context.Context) {
	d.defaults()
	t := time.NewTicker(d.Poll)
	defer t.Stop()
	for {
		for {
			n, err := d.DeliverDue(ctx)
			if err != nil && ctx.Err() == nil {
				d.Logger.Warn("webhook delivery: reading the outbox failed; retrying at the next poll", "err", err)
			}
			if n == 0 || err != nil || ctx.Err() != nil {
				break
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// DeliverDue makes one attempt at each of the due events (at most Batch)
// and returns how many it attempted.
func (d *Deliverer) DeliverDue(ctx context.Context) (int, error) {
	d.defaults()
	cfg := d.Webhooks()
	n, err := d.Store.DeliverDue(ctx, d.Now(), d.Batch, func(e *ldapbridge.OutboxEvent) ldapbridge.DeliveryResult {
		return d.attempt(ctx, cfg, e)
	})
	if n > 0 && d.Metrics != nil {
		if counts, cerr := d.Store.OutboxCounts(context.WithoutCancel(ctx)); cerr == nil {
			d.Metrics.SetOutbox(counts)
		}
	}
	return n, err
}

func (d *Deliverer) attempt(ctx context.Context, cfg config.Events, e *ldapbridge.OutboxEvent) ldapbridge.DeliveryResult {
	var secret string
	found := false
	for _, w := range cfg.Webhooks {
		if w.URL == e.Target {
			secret, found = w.Secret.Reveal(), true
			break
		}
	}
	if !found {
		d.observe("failed")
		return ldapbridge.DeliveryResult{Status: ldapbridge.EventFailed, Error: "no webhook with this url in events.webhooks any more"}
	}
	err := d.post(ctx, secret, e)
	if err == nil {
		d.observe("delivered")
		return ldapbridge.DeliveryResult{Status: ldapbridge.EventDelivered}
	}
	attempts := e.Attempts + 1
	if attempts >= max(1, cfg.MaxAttempts) {
		d.observe("failed")
		d.Logger.Warn("webhook event failed for good (ldapbridge events retry sends it again)", "delivery", e.DeliveryID, "type", e.Type, "url", e.Target, "attempts", attempts, "err", err)
		return ldapbridge.DeliveryResult{Status: ldapbridge.EventFailed, Error: err.Error()}
	}
	wait := d.Backoff << min(attempts-1, 20)
	wait = min(wait, time.Hour)
	d.observe("retry")
	d.Logger.Info("webhook delivery failed; will retry", "delivery", e.DeliveryID, "url", e.Target, "attempt", attempts, "retry_in", wait, "err", err)
	return ldapbridge.DeliveryResult{Status: ldapbridge.EventPending, Next: d.Now().Add(wait), Error: err.Error()}
}

func (d *Deliverer) observe(result string) {
	if d.Metrics != nil {
		d.Metrics.ObserveDelivery(result)
	}
}

// post sends one event; any answer but 2xx is an error.
func (d *Deliverer) post(ctx context.Context, secret string, e *ldapbridge.OutboxEvent) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.Target, bytes.NewReader(e.Body))
	if err != nil {
		return fmt.Errorf("webhook %s: %w", e.Target, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "ldapbridge-webhooks")
	req.Header.Set(HeaderEvent, e.Type)
	req.Header.Set(HeaderDelivery, e.DeliveryID)
	req.Header.Set(HeaderSignature, Sign(secret, e.Body))
	resp, err := d.Client.Do(req)
	if err != nil {
		return fmt.Errorf("webhook %s: %w", e.Target, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("webhook %s answered %s", e.Target, resp.Status)
	}
	return nil
}

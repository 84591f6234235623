package main

import (
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/ldapbridge/ldapbridge"
	"github.com/ldapbridge/ldapbridge/config"
	"github.com/ldapbridge/ldapbridge/events"
)

// webhookBackoffEnv shortens the first webhook retry delay (tests).
const webhookBackoffEnv = "LDAPBRIDGE_WEBHOOK_BACKOFF"

// deliverer is serve's webhook delivery worker over ob, reading the
// current wiring's events.webhooks at each attempt.
func (s *server) deliverer(ob ldapbridge.Outbox) *events.Deliverer {
	d := &events.Deliverer{Store: ob, Logger: s.log, Metrics: s.metrics, Webhooks: func() config.Events {
		if w := s.cur.Load(); w != nil {
			return w.a.cfg.Events
		}
		return s.started.Events
	}}
	if b, err := time.ParseDuration(os.Getenv(webhookBackoffEnv)); err == nil {
		d.Backoff = b
	}
	return d
}

func outboxOf(s ldapbridge.Store) (ldapbridge.Outbox, error) {
	ob, ok := s.(ldapbridge.Outbox)
	if !ok {
		return nil, failed(fmt.Errorf("the store %T keeps no webhook outbox", s))
	}
	return ob, nil
}

func newEventsCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "events",
		Short: "Webhook events: their delivery status, and retrying failed ones",
	}
	list := &cobra.Command{
		Use:   "list [--status pending|delivered|failed]",
		Short: "List webhook events, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			status, _ := cmd.Flags().GetString("status")
			limit, _ := cmd.Flags().GetInt("limit")
			ctx := cmd.Context()
			a, err := g.openApp(ctx, storeOnly)
			if err != nil {
				return err
			}
			defer a.Close()
			ob, err := outboxOf(a.store)
			if err != nil {
				return err
			}
			es, err := ob.OutboxEvents(ctx, status, limit)
			if err != nil {
				return failed(err)
			}
			type eventJSON struct {
				DeliveryID  string    `json:"delivery_id"`
				Type        string    `json:"type"`
				URL         string    `json:"url"`
				Status      string    `json:"status"`
				Attempts    int       `json:"attempts"`
				NextAttempt time.Time `json:"next_attempt_at"`
				LastError   string    `json:"last_error"`
				CreatedAt   time.Time `json:"created_at"`
			}
			out := make([]eventJSON, len(es))
			for i, e := range es {
				out[i] = eventJSON{e.DeliveryID, e.Type, e.Target, e.Status, e.Attempts, e.NextAttempt, e.LastError, e.CreatedAt}
			}
			if g.json {
				return printJSON(g.stdout, out)
			}
			for _, e := range out {
				fmt.Fprintf(g.stdout, "%s  %-18s %-9s attempts %-2s %s %s\n", e.DeliveryID, e.Type, e.Status, strconv.Itoa(e.Attempts), e.URL, e.LastError)
			}
			return nil
		},
	}
	list.Flags().String("status", "", "only events with this status: pending, delivered or failed")
	list.Flags().Int("limit", 50, "how many events to show (0 = all)")
	retry := &cobra.Command{
		Use:   "retry",
		Short: "Send every failed webhook event again (serve delivers them, with the same delivery ids)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			a, err := g.openApp(ctx, storeOnly)
			if err != nil {
				return err
			}
			defer a.Close()
			ob, err := outboxOf(a.store)
			if err != nil {
				return err
			}
			n, err := ob.RetryFailedEvents(ctx, time.Now())
			if err != nil {
				return failed(err)
			}
			if g.json {
				return printJSON(g.stdout, map[string]int64{"retried": n})
			}
			fmt.Fprintf(g.stdout, "%d failed events are pending again; ldapbridge serve delivers them\n", n)
			return nil
		},
	}
	cmd.AddCommand(list, retry)
	return cmd
}

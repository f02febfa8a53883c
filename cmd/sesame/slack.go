package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/sesame-access/sesame/internal/clock"
	"github.com/sesame-access/sesame/internal/config"
	"github.com/sesame-access/sesame/internal/secrets"
	"github.com/sesame-access/sesame/internal/slackbot"
)

// linkCodeTTL is how long a /access login code stays valid.
const linkCodeTTL = 15 * time.Minute

// startSlack builds the Slack bot when a bot token is configured, makes it
// the notifier, and mounts or starts its transport. It must run before the
// job queue starts.
func (m *Main) startSlack(ctx context.Context, mux *http.ServeMux, box *secrets.Box) error {
	cfg := m.Config
	if !cfg.Slack.Enabled() {
		return nil
	}
	bot, err := slackbot.New(slackbot.Config{
		Service: m.svc, Store: m.db.store, Clock: m.Clock, Logger: m.Logger.With("component", "slack"),
		BotToken: cfg.Slack.BotToken, AppToken: cfg.Slack.AppToken, SigningSecret: cfg.Slack.SigningSecret,
		APIURL: cfg.Slack.APIURL, Command: cfg.Slack.Command, BaseURL: cfg.Server.BaseURL, Mode: cfg.Slack.Mode,
		LinkSecret: box.DeriveKey("slack-link"),
	})
	if err != nil {
		return fmt.Errorf("slack: %w", err)
	}
	m.bot = bot
	m.svc.SetNotifier(bot.Notifier())
	// In HTTP mode this serves Slack's signed requests; in both modes it
	// serves the /slack/link page behind /access login (without a signing
	// secret every POST is refused).
	mux.Handle("/slack/", bot.HTTPHandler())
	if cfg.Slack.Mode == slackbot.ModeHTTP {
		return nil
	}
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	m.stopSocket = cancel
	m.socketDone = make(chan struct{})
	go func() {
		defer close(m.socketDone)
		if err := bot.RunSocketMode(sctx); err != nil && sctx.Err() == nil {
			m.Logger.ErrorContext(sctx, "slack socket mode stopped", "err", err)
		}
	}()
	return nil
}

// stopSlack stops Socket Mode and waits for in-flight Slack work.
func (m *Main) stopSlack(ctx context.Context) error {
	if m.stopSocket != nil {
		m.stopSocket()
		<-m.socketDone
	}
	if m.bot != nil {
		return m.bot.Shutdown(ctx)
	}
	return nil
}

// slackCmd is "sesame slack manifest" and "sesame slack link".
func slackCmd(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	const use = `Usage:
  sesame slack manifest [--mode socket|http] [--config FILE]
      print the Slack app manifest to paste at api.slack.com/apps ("From a manifest")
  sesame slack link CODE --user EMAIL [--config FILE]
      bind the Slack user who ran "/access login" (and got CODE) to a Sesame user
`
	if len(args) == 0 {
		fmt.Fprint(stderr, use)
		return 2
	}
	fs := flag.NewFlagSet("slack "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", getenv("SESAME_CONFIG"), "configuration file (env SESAME_CONFIG)")
	mode := fs.String("mode", "", "socket or http (default: slack.mode)")
	user := fs.String("user", "", "the Sesame user's email")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	cfg, err := loadOptions(NewMain(io.Discard, stderr, getenv).registry()).Load(*configPath, getenv)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	switch args[0] {
	case "manifest":
		m := cfg.Slack.Mode
		if *mode != "" {
			m = *mode
		}
		if m != slackbot.ModeSocket && m != slackbot.ModeHTTP {
			fmt.Fprintf(stderr, "sesame slack manifest: --mode must be socket or http\n")
			return 2
		}
		fmt.Fprint(stdout, slackbot.Manifest(m, cfg.Slack.Command, cfg.Server.BaseURL))
		return 0
	case "link":
		if fs.NArg() != 1 || *user == "" {
			fmt.Fprint(stderr, use)
			return 2
		}
		if err := linkSlack(ctx, cfg, *configPath, fs.Arg(0), *user, stderr, getenv); err != nil {
			fmt.Fprintf(stderr, "sesame slack link: %v\n", err)
			return 1
		}
		fmt.Fprintf(stdout, "linked the Slack user to %s\n", strings.ToLower(*user))
		return 0
	}
	fmt.Fprint(stderr, use)
	return 2
}

func linkSlack(ctx context.Context, cfg *config.Config, configPath, code, email string, stderr io.Writer, getenv func(string) string) error {
	box, _, err := secretBox(cfg, getenv)
	if err != nil {
		return err
	}
	db, err := openForOps(ctx, configPath, stderr, getenv)
	if err != nil {
		return err
	}
	linker, err := slackbot.NewCodeLinker(db.store, clock.Real{}, box.DeriveKey("slack-link"), cfg.Server.BaseURL, linkCodeTTL)
	if err != nil {
		return errors.Join(err, db.Close())
	}
	_, err = linker.CompleteLink(ctx, code, strings.ToLower(email))
	return errors.Join(err, db.Close())
}

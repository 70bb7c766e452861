package acl

import (
	"fmt"

	"github.com/pika-node/pika-node/node/resp"
)

// Fault is why Redis 7.0 refuses a rule (the errno its ACLSetUser sets),
// and its Error is Redis's text for it (ACLSetUserStringError). A
// *RuleError wraps one: errors.Is(err, acl.ErrSyntax) tells them apart.
type Fault int

// The faults, with the errno acl.c uses for each.
const (
	ErrSyntax               Fault = iota + 1 // EINVAL: a rule or pattern Redis cannot read
	ErrUnknownCommand                        // ENOENT: a command or category Redis 7.0 does not have
	ErrKeyAfterAll                           // EEXIST: a key pattern after allkeys
	ErrChannelAfterAll                       // EISDIR: a channel pattern after allchannels
	ErrNoSuchPassword                        // ENODEV: removing a password the user does not have
	ErrBadHash                               // EBADMSG: "#" or "!" without 64 lowercase hex digits
	ErrFirstArgOfSubcommand                  // ECHILD: +container|sub|arg
	ErrUnmatchedParenthesis                  // a "(" selector that no rule closes
)

func (f Fault) Error() string {
	switch f {
	case ErrSyntax:
		return "Syntax error"
	case ErrUnknownCommand:
		return "Unknown command or category name in ACL"
	case ErrKeyAfterAll:
		return "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any effect. Try 'resetkeys' to start with an empty list of patterns"
	case ErrChannelAfterAll:
		return "Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does not have any effect. Try 'resetchannels' to start with an empty list of channels"
	case ErrNoSuchPassword:
		return "The password you are trying to remove from the user does not exist"
	case ErrBadHash:
		return "The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters"
	case ErrFirstArgOfSubcommand:
		return "Allowing first-arg of a subcommand is not supported"
	case ErrUnmatchedParenthesis:
		return "Unmatched parenthesis in acl selector"
	}
	return "Wrong format"
}

// RuleError is a rule SetRules refused. Its Error is redis-server 7.0's
// reply to ACL SETUSER for it, "ERR Error in ACL SETUSER modifier
// '<rule>': <fault>", or "ERR Unmatched parenthesis in acl selector
// starting at '<rule>'.".
type RuleError struct {
	// Rule is the rule as Redis names it: a selector spread over several
	// rules is named merged ("(~k* +get)"); for an unmatched parenthesis,
	// the rule that opened it.
	Rule  string
	Fault Fault
}

func (e *RuleError) Error() string {
	if e.Fault == ErrUnmatchedParenthesis {
		return fmt.Sprintf("ERR Unmatched parenthesis in acl selector starting at '%s'.", e.Rule)
	}
	return fmt.Sprintf("ERR Error in ACL SETUSER modifier '%s': %s", e.Rule, e.Fault.Error())
}

func (e *RuleError) Unwrap() error { return e.Fault }

// mergeSelectors joins a selector spread over several rules into one, with
// single spaces, as Redis's ACLMergeSelectorArguments: a rule that starts
// with "(" and does not end with ")" opens one, and the next rule that
// ends with ")" closes it (rules between are taken whole, "(" or not).
func mergeSelectors(rules []string) ([]string, error) {
	out := make([]string, 0, len(rules))
	open := -1
	var cur string
	for i, op := range rules {
		switch {
		case open >= 0:
			cur += " " + op
			if op != "" && op[len(op)-1] == ')' {
				out = append(out, cur)
				open = -1
			}
		case op != "" && op[0] == '(' && op[len(op)-1] != ')':
			open, cur = i, op
		default:
			out = append(out, op)
		}
	}
	if open >= 0 {
		return nil, &RuleError{Rule: cstr(rules[open]), Fault: ErrUnmatchedParenthesis}
	}
	return out, nil
}

// splitArgs splits a selector's rules as Redis's sdssplitargs does
// (resp.SplitArgs): on spaces, with "double quotes" (C escapes and \xHH
// inside) and 'single quotes'. A quote must close and be followed by a
// space or the end; when not, Redis gets no rules at all, and the
// selector is empty (it does not fail). The text is read up to a NUL
// byte, as C reads it.
func splitArgs(line string) []string {
	args, ok := resp.SplitArgs([]byte(cstr(line)))
	if !ok {
		return nil
	}
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = string(a)
	}
	return out
}

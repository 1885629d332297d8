/* sess_text.c -- the engine's words: the token of each error code, the
 * name of each state, and the log line of each event (sess.h). The engine
 * itself writes no line; owners render events with sess_event_format().
 */
#include <stdio.h>

#include "sess_int.h"

const char *sess_strerror(int err)
{
    switch (err) {
#define SESS_ERR_TEXT(name, n, text) case SESS_##name: return text;
    SESS_ERRNO_MAP(SESS_ERR_TEXT)
#undef SESS_ERR_TEXT
    default: return "unknown error";
    }
}

/* -- Events ------------------------------------------------------------------- */

void sess__emit(sess_t *s, sess_event_t ev)
{
    static const sess_severity_t severity[SESS_EV__COUNT] = {
#define SESS_EV_SEV(name, sev) SESS_SEV_##sev,
        SESS_EVENT_MAP(SESS_EV_SEV)
#undef SESS_EV_SEV
    };
    if (!s->h->event) return;
    ev.severity = severity[ev.kind];
    s->h->event(s, &ev, s->ud);
}

static const char *cmd_name(uint32_t command_id, const char *dflt)
{
    const pdu_cmd_t *c = pdu_cmd_find(command_id);
    return c ? c->name : dflt;
}

static const char *status_label(uint32_t status, const char *dflt)
{
    const char *n = pdu_status_name(status);
    return n ? n : dflt;
}

const char *sess_event_format(const sess_t *s, const sess_event_t *e, char *buf, size_t n)
{
    const char *text = e->text ? e->text : "";
    switch (e->kind) {
    case SESS_EV_CLOSING:
        snprintf(buf, n, "closing: %s", text);
        break;
    case SESS_EV_BOUND:
        snprintf(buf, n, "bound %s as %s", s->system_id, sess_state_name(e->state));
        break;
    case SESS_EV_BIND_REFUSED:
        snprintf(buf, n, "bind of '%s' refused: %s", s->system_id, status_label(e->status, "error"));
        break;
    case SESS_EV_BOUND_TO_SMSC:
        snprintf(buf, n, "bound to the SMSC as %s", sess_state_name(e->state));
        break;
    case SESS_EV_BIND_REJECTED:
        snprintf(buf, n, "bind refused: %s", status_label(e->status, "error"));
        break;
    case SESS_EV_UNBINDING:
        snprintf(buf, n, "unbinding (%u requests outstanding, %u being handled)", e->n1, e->n2);
        break;
    case SESS_EV_PEER_UNBINDS:
        snprintf(buf, n, "peer unbinds (%u requests outstanding, %u being handled)", e->n1, e->n2);
        break;
    case SESS_EV_PEER_DEAD:
        snprintf(buf, n, "peer dead: %u enquire_link unanswered", e->n1);
        break;
    case SESS_EV_TIMEOUT:
        snprintf(buf, n, "%s %u: no response within %u ms", cmd_name(e->command_id, "request"), e->seq, e->n1);
        break;
    case SESS_EV_UNMATCHED:
        snprintf(buf, n, "response 0x%08X with sequence_number %u matches no request", e->command_id, e->seq);
        break;
    case SESS_EV_NACKED:
        snprintf(buf, n, "%s %u answered with generic_nack %s", cmd_name(e->command_id, "request"), e->seq,
                 status_label(e->status, "?"));
        break;
    case SESS_EV_BAD_RESPONSE:
        snprintf(buf, n, "bad response to %s %u: %s", cmd_name(e->command_id, "request"), e->seq, text);
        break;
    case SESS_EV_REFUSED:
        snprintf(buf, n, "%s %u refused with %s: %s", cmd_name(e->command_id, "PDU"), e->seq,
                 status_label(e->status, "?"), text);
        break;
    case SESS_EV_DECLINED:
        snprintf(buf, n, "no handler for %s: ESME_RINVCMDID", cmd_name(e->command_id, "PDU"));
        break;
    case SESS_EV_UNKNOWN_COMMAND:
        snprintf(buf, n, "unknown command_id 0x%08X (sequence_number %u): generic_nack", e->command_id, e->seq);
        break;
    case SESS_EV_MALFORMED:
        snprintf(buf, n, "malformed %s %u: %s (%s)", cmd_name(e->command_id, "PDU"), e->seq,
                 status_label(e->status, "?"), text);
        break;
    case SESS_EV_FRAMING_LOST:
        snprintf(buf, n, "framing lost: command_length %u outside 16..%u", e->n1, e->n2);
        break;
    case SESS_EV_RESPONSE_REFUSED:
        snprintf(buf, n, "%s response refused by the encoder (%s); answering ESME_RSYSERR",
                 cmd_name(e->command_id, "PDU"), text);
        break;
    default:
        snprintf(buf, n, "event %d", (int)e->kind);
    }
    return buf;
}

const char *sess_state_name(sess_state_t st)
{
    static const char *const names[] = {"OPEN", "OUTBOUND", "BOUND_TX", "BOUND_RX",
                                        "BOUND_TRX", "UNBINDING", "CLOSED"};
    return (unsigned)st <= SESS_CLOSED ? names[st] : "?";
}

#include "srtfwd/admin/metrics.h"

#include <cctype>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "srtfwd/control/control_plane.h"
#include "srtfwd/control/neighbours.h"
#include "srtfwd/control/srt_proxy.h"

namespace srtfwd::admin {

namespace {

using control::ControlCounters;
using control::NeighbourCounters;
using control::SrtProxyCounters;
using dataplane::Counter;
using dataplane::CounterTotals;
using dataplane::PortStats;

// Accessors: one per source, the field a template argument, so that every
// table row names its field once.
template <uint64_t CounterTotals::*F>
uint64_t total(const MetricsInput& in, size_t) {
  return in.totals.*F;
}
template <uint64_t MetricsInput::*F>
uint64_t input(const MetricsInput& in, size_t) {
  return in.*F;
}
template <Counter ControlCounters::*F>
uint64_t ctl(const MetricsInput& in, size_t) {
  return (in.control->*F).get();
}
template <Counter NeighbourCounters::*F>
uint64_t nb(const MetricsInput& in, size_t) {
  return (in.neighbours->*F).get();
}
template <Counter SrtProxyCounters::*F>
uint64_t proxy(const MetricsInput& in, size_t) {
  return (in.srt->*F).get();
}
template <Counter AdminCounters::*F>
uint64_t adm(const MetricsInput& in, size_t) {
  return (in.admin->*F).get();
}
template <Counter BgpCounters::*F>
uint64_t bgp(const MetricsInput& in, size_t) {
  return (in.health->bgp.*F).get();
}
uint64_t health_ready(const MetricsInput& in, size_t) {
  return in.health->get() == HealthState::kReady ? 1 : 0;
}
template <uint64_t PortStats::*F>
uint64_t port(const MetricsInput& in, size_t i) {
  return in.ports[i].*F;
}
template <uint64_t CounterTotals::*F>
uint64_t worker(const MetricsInput& in, size_t i) {
  return in.workers[i].counters.*F;
}

// The outcomes of a [hooks] call, the labels of srtfwd_hook_answers_total.
struct HookOutcome {
  std::string_view name;
  Counter SrtProxyCounters::*counter;
};
constexpr HookOutcome kHookOutcomes[] = {
    {"allowed", &SrtProxyCounters::hook_allowed}, {"denied", &SrtProxyCounters::hook_denied},
    {"error", &SrtProxyCounters::hook_errors},    {"timeout", &SrtProxyCounters::hook_timeouts},
    {"late", &SrtProxyCounters::hook_late},
};

constexpr auto C = MetricType::kCounter;
constexpr auto G = MetricType::kGauge;
using D = Dim;
using S = Source;
using J = JsonSection;

// The string literals "srtfwd_..." here are what scripts/check-monitoring.py
// holds the dashboard and the alert rules to.
constexpr Metric kMetrics[] = {
    // The workers, summed over lcores.
    {"srtfwd_rx_packets_total",
     "Packets received by the workers.",
     C,
     D::kNone,
     S::kDataplane,
     J::kTop,
     "rx_packets",
     false,
     {},
     total<&CounterTotals::rx_packets>},
    {"srtfwd_rx_bytes_total",
     "Bytes received by the workers.",
     C,
     D::kNone,
     S::kDataplane,
     J::kTop,
     "rx_bytes",
     false,
     {},
     total<&CounterTotals::rx_bytes>},
    {"srtfwd_forwarded_packets_total",
     "Packets of sessions rewritten and queued for TX.",
     C,
     D::kNone,
     S::kDataplane,
     J::kTop,
     "forwarded",
     false,
     {},
     total<&CounterTotals::forwarded>},
    {"srtfwd_forwarded_bytes_total",
     "Bytes of sessions rewritten and queued for TX.",
     C,
     D::kNone,
     S::kDataplane,
     J::kTop,
     "forwarded_bytes",
     false,
     {},
     total<&CounterTotals::forwarded_bytes>},
    {"srtfwd_tx_packets_total",
     "Packets the NICs accepted for transmission.",
     C,
     D::kNone,
     S::kDataplane,
     J::kTop,
     "tx_packets",
     false,
     {},
     total<&CounterTotals::tx_packets>},
    {"srtfwd_tx_dropped_packets_total",
     "Packets lost because a TX queue was full.",
     C,
     D::kNone,
     S::kDataplane,
     J::kTop,
     "tx_dropped",
     false,
     {},
     total<&CounterTotals::tx_dropped>},
    {"srtfwd_hopped_packets_total",
     "Packets encapsulated to their session's owner on another host (second chance).",
     C,
     D::kNone,
     S::kDataplane,
     J::kTop,
     "hopped",
     false,
     {},
     total<&CounterTotals::hopped>},
    {"srtfwd_decapsulated_packets_total",
     "Hop packets from another host taken out and handled as received.",
     C,
     D::kNone,
     S::kDataplane,
     J::kTop,
     "decapsulated",
     false,
     {},
     total<&CounterTotals::decapsulated>},
    {"srtfwd_dropped_packets_total",
     "Packets a worker freed, by reason.",
     C,
     D::kDropReason,
     S::kDataplane,
     J::kTop,
     "dropped",
     false,
     {},
     [](const MetricsInput& in, size_t i) { return in.totals.dropped[i]; }},
    {"srtfwd_to_control_packets_total",
     "Packets handed to the control lcore (slow path).",
     C,
     D::kNone,
     S::kDataplane,
     J::kTop,
     "to_control",
     false,
     {},
     total<&CounterTotals::to_control>},
    {"srtfwd_session_events_total",
     "SHUTDOWNs seen on live sessions.",
     C,
     D::kNone,
     S::kDataplane,
     J::kTop,
     "session_events",
     false,
     {},
     total<&CounterTotals::session_events>},
    {"srtfwd_session_events_lost_total",
     "Session events lost because the ring was full.",
     C,
     D::kNone,
     S::kDataplane,
     J::kTop,
     "event_ring_full",
     false,
     {},
     total<&CounterTotals::event_ring_full>},
    {"srtfwd_control_tx_packets_total",
     "Packets sent by the control lcore.",
     C,
     D::kNone,
     S::kDataplane,
     J::kTop,
     "control_tx",
     false,
     {},
     input<&MetricsInput::control_tx>},
    {"srtfwd_control_tx_dropped_total",
     "Packets of the control lcore that could not be sent.",
     C,
     D::kNone,
     S::kDataplane,
     J::kTop,
     "control_tx_dropped",
     false,
     {},
     input<&MetricsInput::control_tx_dropped>},

    // The control lcore.
    {"srtfwd_slow_path_packets_total",
     "Packets the control lcore handled.",
     C,
     D::kNone,
     S::kControl,
     J::kControl,
     "slow_path_packets",
     false,
     {},
     ctl<&ControlCounters::slow_path_packets>},
    {"srtfwd_arp_replies_total",
     "ARP requests for our addresses answered.",
     C,
     D::kNone,
     S::kControl,
     J::kControl,
     "arp_replies_sent",
     false,
     {},
     ctl<&ControlCounters::arp_replies_sent>},
    {"srtfwd_arp_ignored_total",
     "ARP packets not for us or malformed.",
     C,
     D::kNone,
     S::kControl,
     J::kControl,
     "arp_ignored",
     false,
     {},
     ctl<&ControlCounters::arp_ignored>},
    {"srtfwd_icmp_echo_replies_total",
     "ICMP and ICMPv6 echo requests answered.",
     C,
     D::kNone,
     S::kControl,
     J::kControl,
     "icmp_echo_replies",
     false,
     {},
     ctl<&ControlCounters::icmp_echo_replies>},
    {"srtfwd_icmp_ignored_total",
     "Other ICMP, or ICMP not to us.",
     C,
     D::kNone,
     S::kControl,
     J::kControl,
     "icmp_ignored",
     false,
     {},
     ctl<&ControlCounters::icmp_ignored>},
    {"srtfwd_ndp_adverts_total",
     "Neighbour advertisements sent.",
     C,
     D::kNone,
     S::kControl,
     J::kControl,
     "ndp_adverts_sent",
     false,
     {},
     ctl<&ControlCounters::ndp_adverts_sent>},
    {"srtfwd_ndp_ignored_total",
     "NDP packets ignored.",
     C,
     D::kNone,
     S::kControl,
     J::kControl,
     "ndp_ignored",
     false,
     {},
     ctl<&ControlCounters::ndp_ignored>},
    {"srtfwd_fragments_dropped_total",
     "IP fragments dropped (not reassembled).",
     C,
     D::kNone,
     S::kControl,
     J::kControl,
     "fragments_dropped",
     false,
     {},
     ctl<&ControlCounters::fragments_dropped>},
    {"srtfwd_ip_options_dropped_total",
     "Packets with IPv4 options or IPv6 extension headers dropped.",
     C,
     D::kNone,
     S::kControl,
     J::kControl,
     "ip_options_dropped",
     false,
     {},
     ctl<&ControlCounters::ip_options_dropped>},
    {"srtfwd_srt_unhandled_total",
     "SRT packets with no handler.",
     C,
     D::kNone,
     S::kControl,
     J::kControl,
     "srt_unhandled",
     false,
     {},
     ctl<&ControlCounters::srt_unhandled>},
    {"srtfwd_sessions_installed_total",
     "Sessions installed.",
     C,
     D::kNone,
     S::kControl,
     J::kControl,
     "sessions_installed",
     false,
     {},
     ctl<&ControlCounters::sessions_installed>},
    {"srtfwd_session_install_failed_total",
     "Session installations that failed.",
     C,
     D::kNone,
     S::kControl,
     J::kControl,
     "install_failed",
     false,
     {},
     ctl<&ControlCounters::install_failed>},
    {"srtfwd_sessions_ended_total",
     "Sessions ended, by reason.",
     C,
     D::kEndReason,
     S::kControl,
     J::kControl,
     "sessions_ended",
     true,
     {},
     [](const MetricsInput& in, size_t i) { return in.control->sessions_ended[i].get(); }},
    {"srtfwd_session_events_stale_total",
     "Events for sessions already gone.",
     C,
     D::kNone,
     S::kControl,
     J::kControl,
     "events_stale",
     false,
     {},
     ctl<&ControlCounters::events_stale>},
    // A control lcore that cannot send (ARP and NDP answers, handshakes) shows here.
    {"srtfwd_directory_writes_total",
     "Session directory entries written to Redis (installs and refreshes).",
     C,
     D::kNone,
     S::kControl,
     J::kControl,
     "directory_writes",
     false,
     {},
     ctl<&ControlCounters::directory_writes>},
    {"srtfwd_directory_deletes_total",
     "Session directory entries of ended sessions deleted from Redis.",
     C,
     D::kNone,
     S::kControl,
     J::kControl,
     "directory_deletes",
     false,
     {},
     ctl<&ControlCounters::directory_deletes>},
    {"srtfwd_directory_batches_total",
     "Redis commands the session directory's writes and deletes took (many keys each).",
     C,
     D::kNone,
     S::kControl,
     J::kControl,
     "directory_batches",
     false,
     {},
     ctl<&ControlCounters::directory_batches>},
    {"srtfwd_directory_errors_total",
     "Session directory commands not sent (Redis down) or failed.",
     C,
     D::kNone,
     S::kControl,
     J::kControl,
     "directory_errors",
     false,
     {},
     ctl<&ControlCounters::directory_errors>},
    {"srtfwd_second_chance_lookups_total",
     "Directory reads for the owner of a flow with no session here.",
     C,
     D::kNone,
     S::kControl,
     J::kControl,
     "second_chance_lookups",
     false,
     {},
     ctl<&ControlCounters::second_chance_lookups>},
    {"srtfwd_second_chance_pending_drops_total",
     "Packets dropped while their flow's owner was looked up (SRT retransmits them).",
     C,
     D::kNone,
     S::kControl,
     J::kControl,
     "second_chance_pending",
     false,
     {},
     ctl<&ControlCounters::second_chance_pending>},
    {"srtfwd_second_chance_unknown_drops_total",
     "Packets with no session here dropped: no other host owns their flow.",
     C,
     D::kNone,
     S::kControl,
     J::kControl,
     "second_chance_unknown",
     false,
     {},
     ctl<&ControlCounters::second_chance_unknown>},
    {"srtfwd_second_chance_overload_drops_total",
     "Packets with no session here dropped: too many owner lookups or hop entries.",
     C,
     D::kNone,
     S::kControl,
     J::kControl,
     "second_chance_overload",
     false,
     {},
     ctl<&ControlCounters::second_chance_overload>},
    {"srtfwd_hops_installed_total",
     "Second-chance hop entries put in the flow table (a flow sent on to its owner).",
     C,
     D::kNone,
     S::kControl,
     J::kControl,
     "hops_installed",
     false,
     {},
     ctl<&ControlCounters::hops_installed>},
    {"srtfwd_hops_ended_total",
     "Second-chance hop entries removed: idle, owner changed or gone.",
     C,
     D::kNone,
     S::kControl,
     J::kControl,
     "hops_ended",
     false,
     {},
     ctl<&ControlCounters::hops_ended>},
    {"srtfwd_hop_failed_total",
     "Second-chance hop entries not installed: no route to the owner, or no room in the flow "
     "table.",
     C,
     D::kNone,
     S::kControl,
     J::kControl,
     "hop_failed",
     false,
     {},
     ctl<&ControlCounters::hop_failed>},
    {"srtfwd_control_alloc_failed_total",
     "Packets the control lcore could not build for want of a packet buffer.",
     C,
     D::kNone,
     S::kControl,
     J::kControl,
     "alloc_failed",
     false,
     {},
     ctl<&ControlCounters::alloc_failed>},
    {"srtfwd_missed_packets_total",
     "SRT packets of no session, not handshakes, that the workers' miss gate sent to control.",
     C,
     D::kNone,
     S::kControl,
     J::kControl,
     "missed_packets",
     false,
     {},
     ctl<&ControlCounters::missed_packets>},
    {"srtfwd_missed_forwarded_total",
     "Missed SRT packets that control forwarded to the session it found for them.",
     C,
     D::kNone,
     S::kControl,
     J::kControl,
     "missed_forwarded",
     false,
     {},
     ctl<&ControlCounters::missed_forwarded>},
    {"srtfwd_missed_dropped_total",
     "Missed SRT packets that control dropped: no session found or allowed for them.",
     C,
     D::kNone,
     S::kControl,
     J::kControl,
     "missed_dropped",
     false,
     {},
     ctl<&ControlCounters::missed_dropped>},
    {"srtfwd_rebinds_total",
     "Sessions moved to their caller's new address and port ([srt] follow_rebinding).",
     C,
     D::kNone,
     S::kControl,
     J::kControl,
     "rebinds",
     false,
     {},
     ctl<&ControlCounters::rebinds>},
    {"srtfwd_rebind_refused_total",
     "Packets naming a live session's socket ID from another 4-tuple that did not move it, by "
     "reason.",
     C,
     D::kRebindRefusal,
     S::kControl,
     J::kControl,
     "rebind_refused",
     true,
     {},
     [](const MetricsInput& in, size_t i) { return in.control->rebind_refused[i].get(); }},
    {"srtfwd_rebind_failed_total",
     "Rebinds the session table could not make (the new 4-tuple a session's, or no slot).",
     C,
     D::kNone,
     S::kControl,
     J::kControl,
     "rebind_failed",
     false,
     {},
     ctl<&ControlCounters::rebind_failed>},

    // Next-hop resolution (ARP and NDP), on the control lcore.
    {"srtfwd_neighbour_requests_total",
     "ARP requests and neighbour solicitations sent.",
     C,
     D::kNone,
     S::kNeighbours,
     J::kNeighbours,
     "requests_sent",
     false,
     {},
     nb<&NeighbourCounters::requests_sent>},
    {"srtfwd_neighbour_learned_total",
     "Neighbour entries created or changed.",
     C,
     D::kNone,
     S::kNeighbours,
     J::kNeighbours,
     "learned",
     false,
     {},
     nb<&NeighbourCounters::learned>},
    {"srtfwd_neighbour_queued_packets_total",
     "Packets that waited for a next hop to resolve.",
     C,
     D::kNone,
     S::kNeighbours,
     J::kNeighbours,
     "queued",
     false,
     {},
     nb<&NeighbourCounters::queued>},
    {"srtfwd_neighbour_queue_full_total",
     "Packets dropped: too many already waiting for the same next hop.",
     C,
     D::kNone,
     S::kNeighbours,
     J::kNeighbours,
     "queue_full",
     false,
     {},
     nb<&NeighbourCounters::queue_full>},
    {"srtfwd_neighbour_unresolved_total",
     "Packets dropped: their next hop never answered.",
     C,
     D::kNone,
     S::kNeighbours,
     J::kNeighbours,
     "unresolved",
     false,
     {},
     nb<&NeighbourCounters::unresolved>},

    // The SRT handshake.
    {"srtfwd_srt_inductions_total",
     "Caller INDUCTIONs answered with a SYN cookie.",
     C,
     D::kNone,
     S::kSrt,
     J::kSrt,
     "inductions",
     false,
     {},
     proxy<&SrtProxyCounters::inductions>},
    {"srtfwd_srt_conclusions_total",
     "Caller CONCLUSIONs with a valid cookie.",
     C,
     D::kNone,
     S::kSrt,
     J::kSrt,
     "conclusions",
     false,
     {},
     proxy<&SrtProxyCounters::conclusions>},
    {"srtfwd_srt_bad_cookie_total",
     "CONCLUSIONs ignored for a wrong or stale cookie.",
     C,
     D::kNone,
     S::kSrt,
     J::kSrt,
     "bad_cookie",
     false,
     {},
     proxy<&SrtProxyCounters::bad_cookie>},
    {"srtfwd_srt_cookie_secret_rotations_total",
     "SIGHUP: a new [srt] cookie_secret_file secret taken (the previous one verifies one cookie "
     "lifetime more).",
     C,
     D::kNone,
     S::kSrt,
     J::kSrt,
     "cookie_secret_rotations",
     false,
     {},
     proxy<&SrtProxyCounters::cookie_secret_rotations>},
    {"srtfwd_srt_cookie_secret_failures_total",
     "SIGHUP: [srt] cookie_secret_file unreadable or invalid; the running secret stays.",
     C,
     D::kNone,
     S::kSrt,
     J::kSrt,
     "cookie_secret_failures",
     false,
     {},
     proxy<&SrtProxyCounters::cookie_secret_failures>},
    {"srtfwd_srt_malformed_total",
     "Unparsable handshakes.",
     C,
     D::kNone,
     S::kSrt,
     J::kSrt,
     "malformed",
     false,
     {},
     proxy<&SrtProxyCounters::malformed>},
    {"srtfwd_srt_not_handshake_total",
     "SRT packets to us that are neither a session's nor a handshake.",
     C,
     D::kNone,
     S::kSrt,
     J::kSrt,
     "not_handshake",
     false,
     {},
     proxy<&SrtProxyCounters::not_handshake>},
    {"srtfwd_srt_established_total",
     "Handshakes relayed to an origin and answered.",
     C,
     D::kNone,
     S::kSrt,
     J::kSrt,
     "established",
     false,
     {},
     proxy<&SrtProxyCounters::established>},
    {"srtfwd_srt_cached_answers_total",
     "Retransmitted CONCLUSIONs answered from cache.",
     C,
     D::kNone,
     S::kSrt,
     J::kSrt,
     "cached_answers",
     false,
     {},
     proxy<&SrtProxyCounters::cached_answers>},
    {"srtfwd_srt_in_progress_ignored_total",
     "Retransmitted CONCLUSIONs ignored while the origin's handshake runs.",
     C,
     D::kNone,
     S::kSrt,
     J::kSrt,
     "in_progress_ignored",
     false,
     {},
     proxy<&SrtProxyCounters::in_progress_ignored>},
    {"srtfwd_srt_backend_retries_total",
     "Handshake packets retransmitted to origins.",
     C,
     D::kNone,
     S::kSrt,
     J::kSrt,
     "backend_retries",
     false,
     {},
     proxy<&SrtProxyCounters::backend_retries>},
    {"srtfwd_srt_stray_backend_total",
     "Packets from origins for no handshake in flight.",
     C,
     D::kNone,
     S::kSrt,
     J::kSrt,
     "stray_backend",
     false,
     {},
     proxy<&SrtProxyCounters::stray_backend>},
    {"srtfwd_srt_backend_rejected_total",
     "Origins' rejections relayed to their callers.",
     C,
     D::kNone,
     S::kSrt,
     J::kSrt,
     "backend_rejected",
     false,
     {},
     proxy<&SrtProxyCounters::backend_rejected>},
    {"srtfwd_srt_inductions_dropped_total",
     "Caller INDUCTIONs over their source's rate ([limits]), not answered.",
     C,
     D::kNone,
     S::kSrt,
     J::kSrt,
     "dropped_inductions",
     false,
     {},
     proxy<&SrtProxyCounters::dropped_inductions>},
    {"srtfwd_hook_calls_total",
     "[hooks] calls made (on_publish, on_play).",
     C,
     D::kNone,
     S::kSrt,
     J::kSrt,
     "hook_calls",
     false,
     {},
     proxy<&SrtProxyCounters::hook_calls>},
    // late: answered after the caller's deadline or end, ignored.
    {"srtfwd_hook_answers_total",
     "[hooks] calls by outcome.",
     C,
     D::kHookOutcome,
     S::kSrt,
     J::kSrt,
     "hook",
     true,
     {},
     [](const MetricsInput& in, size_t i) { return (in.srt->*kHookOutcomes[i].counter).get(); }},
    {"srtfwd_hook_overflow_total",
     "Callers refused because max_in_flight hook calls were out.",
     C,
     D::kNone,
     S::kSrt,
     J::kSrt,
     "hook_overflow",
     false,
     {},
     proxy<&SrtProxyCounters::hook_overflow>},
    // The exit line's srt.rejected is the sum: every rejection has one reason.
    {"srtfwd_srt_rejected_total", "Callers rejected, by reason.", C, D::kRejectReason, S::kSrt,
     J::kSrt, "rejected", true, "rejected",
     [](const MetricsInput& in, size_t i) { return in.srt->rejected_by[i].get(); }},
    {"srtfwd_srt_handshakes_in_flight",
     "Handshakes waiting for the balancer or an origin.",
     G,
     D::kNone,
     S::kSrt,
     J::kSrt,
     "in_flight",
     false,
     {},
     input<&MetricsInput::srt_in_flight>},
    {"srtfwd_srt_tracked",
     "Callers with handshake state (in flight, established, rejected).",
     G,
     D::kNone,
     S::kSrt,
     J::kSrt,
     "tracked",
     false,
     {},
     input<&MetricsInput::srt_tracked>},
    {"srtfwd_srt_legs_in_use",
     "Leg ports allocated.",
     G,
     D::kNone,
     S::kSrt,
     J::kSrt,
     "legs_in_use",
     false,
     {},
     input<&MetricsInput::srt_legs_in_use>},

    // Redis Sentinel ([balancer] sentinels): the balancer's own counts.
    {"srtfwd_balancer_master_switches_total",
     "Times the Redis balancer connected to another master than the one before (Sentinel).",
     C,
     D::kNone,
     S::kSrt,
     J::kSrt,
     "balancer_master_switches",
     false,
     {},
     proxy<&SrtProxyCounters::balancer_master_switches>},
    {"srtfwd_balancer_sentinel_errors_total",
     "Sentinels that could not name the master, and +switch-master subscriptions lost.",
     C,
     D::kNone,
     S::kSrt,
     J::kSrt,
     "balancer_sentinel_errors",
     false,
     {},
     proxy<&SrtProxyCounters::balancer_sentinel_errors>},

    // The admin API: origins' heartbeats, and the ones refused for their token.
    {"srtfwd_admin_registered_total",
     "Origin heartbeats (POST /api/v1/srs/register) accepted.",
     C,
     D::kNone,
     S::kAdmin,
     J::kAdmin,
     "registered",
     false,
     {},
     adm<&AdminCounters::registered>},
    {"srtfwd_admin_register_unauthorized_total",
     "Origin heartbeats refused with 401: register_token missing or wrong.",
     C,
     D::kNone,
     S::kAdmin,
     J::kAdmin,
     "register_unauthorized",
     false,
     {},
     adm<&AdminCounters::register_unauthorized>},

    // GET /api/v1/health and the [bgp] commands that tell the BGP speaker.
    {"srtfwd_health_ready",
     "1 while GET /api/v1/health answers 200 (ready), 0 while starting or draining.",
     G,
     D::kNone,
     S::kHealth,
     J::kHealth,
     "ready",
     false,
     {},
     health_ready},
    {"srtfwd_bgp_commands_total",
     "[bgp] ready_command and draining_command runs (one per time it was due).",
     C,
     D::kNone,
     S::kHealth,
     J::kHealth,
     "commands",
     false,
     {},
     bgp<&BgpCounters::commands>},
    {"srtfwd_bgp_command_failures_total",
     "[bgp] commands that exited non-zero, died of a signal, or could not start.",
     C,
     D::kNone,
     S::kHealth,
     J::kHealth,
     "command_failures",
     false,
     {},
     bgp<&BgpCounters::command_failures>},
    {"srtfwd_bgp_command_timeouts_total",
     "[bgp] commands killed: at their deadline, or a ready_command still running at SIGTERM.",
     C,
     D::kNone,
     S::kHealth,
     J::kHealth,
     "command_timeouts",
     false,
     {},
     bgp<&BgpCounters::command_timeouts>},

    // The drivers' own counters, per port: what the NIC lost before a worker
    // saw it (a worker that cannot keep up shows as rx_missed) is only here.
    {"srtfwd_port_rx_packets_total",
     "Packets the port received (its driver's count).",
     C,
     D::kPort,
     S::kPorts,
     J::kPort,
     "rx_packets",
     false,
     {},
     port<&PortStats::rx_packets>},
    {"srtfwd_port_rx_bytes_total",
     "Bytes the port received.",
     C,
     D::kPort,
     S::kPorts,
     J::kPort,
     "rx_bytes",
     false,
     {},
     port<&PortStats::rx_bytes>},
    {"srtfwd_port_tx_packets_total",
     "Packets the port sent.",
     C,
     D::kPort,
     S::kPorts,
     J::kPort,
     "tx_packets",
     false,
     {},
     port<&PortStats::tx_packets>},
    {"srtfwd_port_tx_bytes_total",
     "Bytes the port sent.",
     C,
     D::kPort,
     S::kPorts,
     J::kPort,
     "tx_bytes",
     false,
     {},
     port<&PortStats::tx_bytes>},
    {"srtfwd_port_rx_missed_total",
     "Packets the port dropped because its RX queue was full.",
     C,
     D::kPort,
     S::kPorts,
     J::kPort,
     "rx_missed",
     false,
     {},
     port<&PortStats::rx_missed>},
    {"srtfwd_port_rx_errors_total",
     "Erroneous frames the port received.",
     C,
     D::kPort,
     S::kPorts,
     J::kPort,
     "rx_errors",
     false,
     {},
     port<&PortStats::rx_errors>},
    {"srtfwd_port_rx_nombuf_total",
     "Receive failures for want of a packet buffer.",
     C,
     D::kPort,
     S::kPorts,
     J::kPort,
     "rx_nombuf",
     false,
     {},
     port<&PortStats::rx_nombuf>},
    {"srtfwd_port_tx_errors_total",
     "Frames the port failed to send.",
     C,
     D::kPort,
     S::kPorts,
     J::kPort,
     "tx_errors",
     false,
     {},
     port<&PortStats::tx_errors>},

    // Each worker lcore's share of the totals above: how evenly the RX
    // queues spread the load, and which worker drops what.
    {"srtfwd_worker_rx_packets_total",
     "Packets received by this worker.",
     C,
     D::kLcore,
     S::kWorkers,
     J::kWorker,
     "rx_packets",
     false,
     {},
     worker<&CounterTotals::rx_packets>},
    {"srtfwd_worker_rx_bytes_total",
     "Bytes received by this worker.",
     C,
     D::kLcore,
     S::kWorkers,
     J::kWorker,
     "rx_bytes",
     false,
     {},
     worker<&CounterTotals::rx_bytes>},
    {"srtfwd_worker_forwarded_packets_total",
     "Packets this worker rewrote and queued for TX.",
     C,
     D::kLcore,
     S::kWorkers,
     J::kWorker,
     "forwarded",
     false,
     {},
     worker<&CounterTotals::forwarded>},
    {"srtfwd_worker_forwarded_bytes_total",
     "Bytes this worker rewrote and queued for TX.",
     C,
     D::kLcore,
     S::kWorkers,
     J::kWorker,
     "forwarded_bytes",
     false,
     {},
     worker<&CounterTotals::forwarded_bytes>},
    {"srtfwd_worker_tx_packets_total",
     "Packets the NICs accepted from this worker.",
     C,
     D::kLcore,
     S::kWorkers,
     J::kWorker,
     "tx_packets",
     false,
     {},
     worker<&CounterTotals::tx_packets>},
    {"srtfwd_worker_tx_dropped_packets_total",
     "Packets this worker lost to a full TX queue.",
     C,
     D::kLcore,
     S::kWorkers,
     J::kWorker,
     "tx_dropped",
     false,
     {},
     worker<&CounterTotals::tx_dropped>},
    {"srtfwd_worker_to_control_packets_total",
     "Packets this worker handed to the control lcore.",
     C,
     D::kLcore,
     S::kWorkers,
     J::kWorker,
     "to_control",
     false,
     {},
     worker<&CounterTotals::to_control>},
    {"srtfwd_worker_dropped_packets_total",
     "Packets this worker freed (every reason).",
     C,
     D::kLcore,
     S::kWorkers,
     J::kWorker,
     "dropped",
     false,
     {},
     [](const MetricsInput& in, size_t i) { return in.workers[i].counters.dropped_total(); }},
    {"srtfwd_worker_session_events_total",
     "SHUTDOWNs this worker saw on live sessions.",
     C,
     D::kLcore,
     S::kWorkers,
     J::kWorker,
     "session_events",
     false,
     {},
     worker<&CounterTotals::session_events>},
    {"srtfwd_worker_session_events_lost_total",
     "Session events this worker lost to a full ring.",
     C,
     D::kLcore,
     S::kWorkers,
     J::kWorker,
     "event_ring_full",
     false,
     {},
     worker<&CounterTotals::event_ring_full>},
    {"srtfwd_worker_control_tx_packets_total",
     "Packets of the control lcore sent on this worker's TX queues.",
     C,
     D::kLcore,
     S::kWorkers,
     J::kWorker,
     "control_tx",
     false,
     {},
     worker<&CounterTotals::control_tx>},
    {"srtfwd_worker_hopped_packets_total",
     "Packets this worker encapsulated to their session's owner on another host.",
     C,
     D::kLcore,
     S::kWorkers,
     J::kWorker,
     "hopped",
     false,
     {},
     worker<&CounterTotals::hopped>},
    {"srtfwd_worker_decapsulated_packets_total",
     "Hop packets this worker took out and handled as received.",
     C,
     D::kLcore,
     S::kWorkers,
     J::kWorker,
     "decapsulated",
     false,
     {},
     worker<&CounterTotals::decapsulated>},
    // The exit line's "rx_queues" lists the queues themselves.
    {"srtfwd_worker_rx_queues",
     "RX queues this worker polls (0: it idles).",
     G,
     D::kLcore,
     S::kWorkers,
     J::kWorker,
     "rx_queue_count",
     false,
     {},
     [](const MetricsInput& in, size_t i) { return uint64_t{in.workers[i].rx_queues}; }},

    {"srtfwd_sessions_active",
     "Sessions in the table.",
     G,
     D::kNone,
     S::kDataplane,
     J::kTop,
     "sessions_active",
     false,
     {},
     input<&MetricsInput::sessions_active>},
    {"srtfwd_mbufs_in_use",
     "Packet buffers out of the pool.",
     G,
     D::kNone,
     S::kDataplane,
     J::kTop,
     "mbufs_in_use",
     false,
     {},
     input<&MetricsInput::mbufs_in_use>},
    {"srtfwd_session_slots",
     "Session table slots by state (two live per session).",
     G,
     D::kSlotState,
     S::kDataplane,
     J::kTop,
     "session_slots",
     false,
     {},
     [](const MetricsInput& in, size_t i) {
       const uint64_t v[] = {in.slots_live, in.slots_retired, in.slots_free};
       return v[i];
     }},
};

constexpr std::string_view kSlotStates[] = {"live", "retired", "free"};

// Telemetry dict keys allow [A-Za-z0-9_/] only.
std::string key_safe(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '/')) c = '_';
  return out;
}

class Writer {
 public:
  void header(std::string_view name, std::string_view help, MetricType type) {
    out_ += "# HELP ";
    out_ += name;
    out_ += ' ';
    out_ += help;
    out_ += "\n# TYPE ";
    out_ += name;
    out_ += type == MetricType::kCounter ? " counter\n" : " gauge\n";
  }
  // Label values are ours (names, numbers): no escaping needed.
  void sample(std::string_view name, std::string_view label, std::string_view value, uint64_t v) {
    out_ += name;
    if (!label.empty()) {
      out_ += '{';
      out_ += label;
      out_ += "=\"";
      out_ += value;
      out_ += "\"}";
    }
    out_ += ' ';
    out_ += std::to_string(v);
    out_ += '\n';
  }
  // A histogram family: cumulative buckets from per-bucket counts.
  template <typename Bounds, typename Counts>
  void histogram(std::string_view name, std::string_view help, const Bounds& le,
                 const Counts& counts, uint64_t count, double sum) {
    out_ += "# HELP ";
    out_ += name;
    out_ += ' ';
    out_ += help;
    out_ += "\n# TYPE ";
    out_ += name;
    out_ += " histogram\n";
    uint64_t acc = 0;
    for (size_t i = 0; i <= le.size(); ++i) {
      acc += counts[i];
      out_ += name;
      out_ += "_bucket{le=\"";
      out_ += i < le.size() ? number(le[i]) : std::string("+Inf");
      out_ += "\"} ";
      out_ += std::to_string(acc);
      out_ += '\n';
    }
    out_ += name;
    out_ += "_sum ";
    out_ += number(sum);
    out_ += '\n';
    out_ += name;
    out_ += "_count ";
    out_ += std::to_string(count);
    out_ += '\n';
  }
  static std::string number(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.9g", v);
    return buf;
  }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

}  // namespace

std::span<const Metric> metrics_table() { return kMetrics; }

std::string_view dim_label(Dim d) {
  switch (d) {
    case Dim::kNone: return {};
    case Dim::kDropReason:
    case Dim::kEndReason:
    case Dim::kRejectReason:
    case Dim::kRebindRefusal: return "reason";
    case Dim::kSlotState: return "state";
    case Dim::kPort: return "port";
    case Dim::kLcore: return "lcore";
    case Dim::kHookOutcome: return "outcome";
  }
  return {};
}

size_t dim_size(Dim d, const MetricsInput& in) {
  switch (d) {
    case Dim::kNone: return 1;
    case Dim::kDropReason: return dataplane::kDropReasonNames.size();
    case Dim::kEndReason: return control::kEndReasonNames.size();
    case Dim::kRejectReason: return control::kRejectReasons.size();
    case Dim::kSlotState: return std::size(kSlotStates);
    case Dim::kPort: return in.ports.size();
    case Dim::kLcore: return in.workers.size();
    case Dim::kHookOutcome: return std::size(kHookOutcomes);
    case Dim::kRebindRefusal: return control::kRebindRefusalNames.size();
  }
  return 0;
}

std::string dim_value(Dim d, const MetricsInput& in, size_t i) {
  switch (d) {
    case Dim::kNone: return {};
    case Dim::kDropReason: return std::string(dataplane::kDropReasonNames[i]);
    case Dim::kEndReason: return std::string(control::kEndReasonNames[i]);
    case Dim::kRejectReason: return std::string(control::kRejectReasons[i].name);
    case Dim::kSlotState: return std::string(kSlotStates[i]);
    case Dim::kPort: return std::to_string(in.ports[i].port_id);
    case Dim::kLcore: return std::to_string(in.workers[i].lcore);
    case Dim::kHookOutcome: return std::string(kHookOutcomes[i].name);
    case Dim::kRebindRefusal: return std::string(control::kRebindRefusalNames[i]);
  }
  return {};
}

bool present(const Metric& m, const MetricsInput& in) {
  switch (m.source) {
    case Source::kDataplane: return true;
    case Source::kControl: return in.control != nullptr;
    case Source::kNeighbours: return in.neighbours != nullptr;
    case Source::kSrt: return in.srt != nullptr;
    case Source::kAdmin: return in.admin != nullptr;
    case Source::kHealth: return in.health != nullptr;
    case Source::kPorts: return !in.ports.empty();
    case Source::kWorkers: return !in.workers.empty();
  }
  return false;
}

std::string prometheus_text(const MetricsInput& in) {
  Writer w;
  for (const Metric& m : kMetrics) {
    if (!present(m, in)) continue;
    w.header(m.name, m.help, m.type);
    const size_t n = dim_size(m.dim, in);
    for (size_t i = 0; i < n; ++i)
      w.sample(m.name, dim_label(m.dim), dim_value(m.dim, in, i), m.value(in, i));
  }
  // The live sessions' link quality (link_stats.h): one observation per
  // data direction whose receiver has sent a full ACK, as of the control
  // lcore's last session list; the bucket bounds are LinkHistograms'.
  using H = dataplane::LinkHistograms;
  const H::Snapshot& h = in.link_hist;
  std::array<double, H::kRttBoundsUs.size()> rtt_le{};
  for (size_t i = 0; i < rtt_le.size(); ++i)
    rtt_le[i] = static_cast<double>(H::kRttBoundsUs[i]) / 1e6;
  w.histogram("srtfwd_session_rtt_seconds",
              "Live sessions' round-trip time, per data direction, from the receiver's ACKs.",
              rtt_le, h.rtt, h.rtt_count, h.rtt_sum_s);
  w.histogram(
      "srtfwd_session_loss_percent",
      "Live sessions' loss, per data direction: sequence numbers NAKed over packets relayed.",
      H::kLossBoundsPct, h.loss, h.loss_count, h.loss_sum_pct);
  return w.take();
}

std::string counters_json(const MetricsInput& in) {
  nlohmann::json j = nlohmann::json::object();
  nlohmann::json ports = nlohmann::json::array();
  for (const auto& p : in.ports)
    ports.push_back({{"port", p.port_id}, {"rx_queue_packets", p.rx_queue_packets}});
  nlohmann::json workers = nlohmann::json::array();
  for (const auto& ws : in.workers) {
    nlohmann::json queues = nlohmann::json::array();
    for (const auto& o : in.rx_queue_map)
      if (o.lcore == ws.lcore) queues.push_back({o.port_id, o.queue});
    workers.push_back({{"lcore", ws.lcore}, {"rx_queues", queues}});
  }
  for (const Metric& m : kMetrics) {
    if (!present(m, in)) continue;
    const size_t n = dim_size(m.dim, in);
    const std::string key(m.json_key);
    if (m.section == JsonSection::kPort || m.section == JsonSection::kWorker) {
      auto& arr = m.section == JsonSection::kPort ? ports : workers;
      for (size_t i = 0; i < n; ++i) arr[i][key] = m.value(in, i);
      continue;
    }
    nlohmann::json* obj = &j;
    switch (m.section) {
      case JsonSection::kControl: obj = &j["control"]; break;
      case JsonSection::kNeighbours: obj = &j["neighbours"]; break;
      case JsonSection::kSrt: obj = &j["srt"]; break;
      case JsonSection::kAdmin: obj = &j["admin"]; break;
      case JsonSection::kHealth: obj = &j["health"]; break;
      default: break;
    }
    if (m.dim == Dim::kNone) {
      (*obj)[key] = m.value(in, 0);
      continue;
    }
    uint64_t sum = 0;
    for (size_t i = 0; i < n; ++i) {
      const uint64_t v = m.value(in, i);
      sum += v;
      if (m.json_flat)
        (*obj)[key + "_" + dim_value(m.dim, in, i)] = v;
      else
        (*obj)[key][dim_value(m.dim, in, i)] = v;
    }
    if (!m.json_total.empty()) (*obj)[std::string(m.json_total)] = sum;
  }
  j["ports"] = std::move(ports);
  j["workers"] = std::move(workers);
  return j.dump();
}

std::vector<std::pair<std::string, uint64_t>> telemetry_stats(const MetricsInput& in) {
  std::vector<std::pair<std::string, uint64_t>> out;
  for (const Metric& m : kMetrics) {
    if (!present(m, in)) continue;
    std::string key(m.name.substr(m.name.starts_with("srtfwd_") ? 7 : 0));
    const size_t n = dim_size(m.dim, in);
    if (m.dim == Dim::kLcore) {
      uint64_t sum = 0;
      for (size_t i = 0; i < n; ++i) sum += m.value(in, i);
      out.emplace_back(std::move(key), sum);
      continue;
    }
    if (m.dim == Dim::kNone) {
      out.emplace_back(std::move(key), m.value(in, 0));
      continue;
    }
    for (size_t i = 0; i < n; ++i)
      out.emplace_back(key + "/" + key_safe(dim_value(m.dim, in, i)), m.value(in, i));
  }
  return out;
}

std::vector<std::string_view> lcore_fields() {
  std::vector<std::string_view> out;
  for (const Metric& m : kMetrics)
    if (m.dim == Dim::kLcore) out.push_back(m.json_key);
  return out;
}

std::vector<uint64_t> lcore_values(const MetricsInput& in, size_t w) {
  std::vector<uint64_t> out;
  for (const Metric& m : kMetrics)
    if (m.dim == Dim::kLcore) out.push_back(m.value(in, w));
  return out;
}

MetricsInput gather_metrics(const dataplane::Dataplane& dp, const control::ControlPlane& cp,
                            const control::SrtProxyCounters* srt_counters) {
  MetricsInput in;
  // The workers first, then the totals: a worker counts on in between, so the
  // totals are at least the workers' sum, never less.
  in.workers = dp.worker_stats();
  in.totals = dp.totals();
  in.control_tx = dp.control_tx_packets();
  in.control_tx_dropped = dp.control_tx_dropped();
  in.control = &cp.counters();
  in.neighbours = &cp.neighbour_counters();
  // SessionTable::active() is a relaxed atomic load; sessions() just has no
  // const overload.
  in.sessions_active = dp.sessions().active();
  in.mbufs_in_use = dp.mbufs_in_use();
  const dataplane::FlowTable& f = dp.sessions().flows();
  in.slots_live = f.live();
  in.slots_retired = f.retired();
  in.slots_free = f.free();
  in.srt = srt_counters;
  if (srt_counters != nullptr) {
    in.srt_in_flight = srt_counters->in_flight.get();
    in.srt_tracked = srt_counters->tracked.get();
    in.srt_legs_in_use = srt_counters->legs_in_use.get();
  }
  in.ports = dp.port_stats();
  in.rx_queue_map = dp.rx_queue_map();
  in.link_hist = dp.sessions().link_histograms().get();
  return in;
}

}  // namespace srtfwd::admin

package latency

import (
	"fmt"
	"sort"
	"strings"
)

// DoctorConfig is what LATENCY DOCTOR's advice depends on besides the
// samples.
type DoctorConfig struct {
	SlowlogSlowerThan int64 // slowlog-log-slower-than, µs
}

// The parts of Redis 7.0's report.
const (
	doctorOff = "I'm sorry, Dave, I can't do that. Latency monitoring is disabled in this Redis instance. " +
		"You may use \"CONFIG SET latency-monitor-threshold <milliseconds>.\" in order to enable it. " +
		"If we weren't in a deep space mission I'd suggest to take a look at https://redis.io/topics/latency-monitor.\n"
	doctorCalm = "Dave, no latency spike was observed during the lifetime of this Redis instance, not in the " +
		"slightest bit. I honestly think you ought to sit down calmly, take a stress pill, and think things over.\n"
	doctorIntro = "Dave, I have observed latency spikes in this Redis instance. You don't mind talking about it, do you Dave?\n\n"
	adviceIntro = "\nI have a few advices for you:\n\n"
	noAdvice    = "\nWhile there are latency events logged, I'm not able to suggest any easy fix. Please use the " +
		"Redis community to get some help, providing this report in your help request.\n"
	adviceSlowlogOn = "- There are latency issues with potentially slow commands you are using. Try to enable the " +
		"Slow Log Redis feature using the command 'CONFIG SET slowlog-log-slower-than %d'. If the Slow log is " +
		"disabled Redis is not able to log slow commands execution for you.\n"
	adviceSlowlogTune = "- Your current Slow Log configuration only logs events that are slower than your " +
		"configured latency monitor threshold. Please use 'CONFIG SET slowlog-log-slower-than %d'.\n"
	adviceSlowlogRead = "- Check your Slow Log to understand what are the commands you are running which are too " +
		"slow to execute. Please check https://redis.io/commands/slowlog for more information.\n"
	adviceScheduler = "- The system is slow to execute Redis code paths not containing system calls. This usually " +
		"means the system does not provide Redis CPU time to run for long periods. You should try to:\n" +
		"  1) Lower the system load.\n" +
		"  2) Use a computer / VM just for Redis if you are running other softawre in the same system.\n" +
		"  3) Check if you have a \"noisy neighbour\" problem.\n" +
		"  4) Check with 'redis-cli --intrinsic-latency 100' what is the intrinsic latency in your system.\n" +
		"  5) Check if the problem is allocator-related by recompiling Redis with MALLOC=libc, if you are " +
		"using Jemalloc. However this may create fragmentation problems.\n"
	adviceLargeObjects = "- Deleting, expiring or evicting (because of maxmemory policy) large objects is a " +
		"blocking operation. If you have very large objects that are often deleted, expired, or evicted, try " +
		"to fragment those objects into multiple smaller objects.\n"
)

// stats is one event's figures in the report.
type stats struct {
	samples        int
	avg, mad, high int64
	period         int64 // seconds since its oldest sample, at least 1
}

func analyze(s *series, now int64) stats {
	hist := s.history()
	st := stats{samples: len(hist), high: s.max}
	if len(hist) == 0 {
		return st
	}
	var sum int64
	oldest := hist[0].Time
	for _, x := range hist {
		sum += x.MS
		oldest = min(oldest, x.Time)
	}
	st.avg = sum / int64(len(hist))
	st.period = max(now-oldest, 1)
	var dev int64
	for _, x := range hist {
		d := st.avg - x.MS
		if d < 0 {
			d = -d
		}
		dev += d
	}
	st.mad = dev / int64(len(hist))
	return st
}

// Doctor writes LATENCY DOCTOR's report, in Redis 7.0's words, for the
// events this node records ("command" and "fast-command").
func (m *Monitor) Doctor(cfg DoctorConfig) string {
	th := m.threshold.Load()
	now := m.now().Unix()
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.events) == 0 && th == 0 {
		return doctorOff
	}
	if len(m.events) == 0 {
		return doctorCalm
	}
	names := make([]string, 0, len(m.events))
	for name := range m.events {
		names = append(names, name)
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString(doctorIntro)
	var slowlogOn, slowlogTune, slowlogRead, scheduler, largeObjects bool
	for i, name := range names {
		st := analyze(m.events[name], now)
		fmt.Fprintf(&b, "%d. %s: %d latency spikes (average %dms, mean deviation %dms, period %.2f sec). Worst all time event %dms.",
			i+1, name, st.samples, st.avg, st.mad, float64(st.period)/float64(max(st.samples, 1)), st.high)
		switch strings.ToLower(name) {
		case "command":
			switch {
			case cfg.SlowlogSlowerThan < 0:
				slowlogOn = true
			case cfg.SlowlogSlowerThan/1000 > th:
				slowlogTune = true
			}
			slowlogRead, largeObjects = true, true
		case "fast-command":
			scheduler = true
		}
		b.WriteByte('\n')
	}
	if !(slowlogOn || slowlogTune || slowlogRead || scheduler || largeObjects) {
		b.WriteString(noAdvice)
		return b.String()
	}
	b.WriteString(adviceIntro)
	if slowlogOn {
		fmt.Fprintf(&b, adviceSlowlogOn, th*1000)
	}
	if slowlogTune {
		fmt.Fprintf(&b, adviceSlowlogTune, th*1000)
	}
	if slowlogRead {
		b.WriteString(adviceSlowlogRead)
	}
	if scheduler {
		b.WriteString(adviceScheduler)
	}
	if largeObjects {
		b.WriteString(adviceLargeObjects)
	}
	return b.String()
}

/*
 * Motorola MC146818A RTC (MC146818A datasheet: registers A-D, update cycle, interrupts) with the
 * PC's CMOS RAM layout (IBM AT BIOS conventions, plus SeaBIOS's 0x5b-0x5d and 0x5f).
 *
 * Time follows the host: at init the clock takes the host's UTC time and then advances with the
 * monotonic clock that drives device timers, so update, alarm and periodic events keep exact
 * phase with the seconds the guest reads. The guest may set the clock (SET bit, divider reset,
 * or plain writes to the time registers); that only changes the offset to the host clock.
 * Registers are produced on read in the current format (binary or BCD, 12 or 24 hours).
 * Flags in register C are computed lazily from time when read; a host timer runs only to raise
 * IRQ 8 for an enabled interrupt. UIP reads as 1 for 244 us before each update; the update itself
 * is instantaneous. Not modelled: daylight-saving switching (DSE is kept but has no effect), the
 * square-wave pin, time bases other than 32.768 kHz (any divider other than 010 stops the clock),
 * the extended CMOS bank at 0x72/0x73.
 */
#include <string.h>
#include <time.h>

#include "rtc.h"

#define REG_SEC 0x00
#define REG_SEC_ALARM 0x01
#define REG_MIN 0x02
#define REG_MIN_ALARM 0x03
#define REG_HOUR 0x04
#define REG_HOUR_ALARM 0x05
#define REG_WDAY 0x06
#define REG_MDAY 0x07
#define REG_MON 0x08
#define REG_YEAR 0x09
#define REG_A 0x0a
#define REG_B 0x0b
#define REG_C 0x0c
#define REG_D 0x0d
#define CMOS_CENTURY 0x32

#define A_UIP 0x80
#define A_DV 0x70
#define A_DV_NORMAL 0x20 /* 32.768 kHz time base, divider running */
#define A_RS 0x0f
#define B_SET 0x80
#define B_PIE 0x40
#define B_AIE 0x20
#define B_UIE 0x10
#define B_SQWE 0x08
#define B_DM_BINARY 0x04
#define B_24H 0x02
#define C_IRQF 0x80
#define C_PF 0x40
#define C_AF 0x20
#define C_UF 0x10
#define D_VRT 0x80

#define NS 1000000000ull
#define UIP_NS 244141ull /* 8 cycles of the 32.768 kHz base before the update (datasheet: 244 us) */

static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;
	return (a % b && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = floor_div(y, 400);
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	z += 719468;
	int64_t era = floor_div(z, 146097);
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static uint8_t enc(const struct rtc *r, unsigned v)
{
	if (r->cmos[REG_B] & B_DM_BINARY)
		return (uint8_t)v;
	return (uint8_t)(((v / 10) % 10) << 4 | v % 10);
}

static unsigned dec(const struct rtc *r, uint8_t v)
{
	if (r->cmos[REG_B] & B_DM_BINARY)
		return v;
	return (v >> 4) * 10 + (v & 15);
}

static uint8_t enc_hour(const struct rtc *r, unsigned h)
{
	if (r->cmos[REG_B] & B_24H)
		return enc(r, h);
	unsigned h12 = h % 12 ? h % 12 : 12;
	return enc(r, h12) | (h >= 12 ? 0x80 : 0);
}

static unsigned dec_hour(const struct rtc *r, uint8_t v)
{
	if (r->cmos[REG_B] & B_24H)
		return dec(r, v);
	unsigned h = dec(r, v & 0x7f);
	if (h == 12)
		h = 0;
	return h + (v & 0x80 ? 12 : 0);
}

static unsigned min_u(unsigned a, unsigned b)
{
	return a < b ? a : b;
}

/* The registers 0x00-0x09 and the century byte for time sec, in the current format. */
static void format_time(const struct rtc *r, int64_t sec, uint8_t regs[10], uint8_t *century)
{
	int64_t days = floor_div(sec, 86400), y;
	unsigned sod = (unsigned)(sec - days * 86400), m, d;
	civil_from_days(days, &y, &m, &d);
	if (y < 0)
		y = 0; /* cannot happen from a parsed date; keeps the modulo below non-negative */
	regs[REG_SEC] = enc(r, sod % 60);
	regs[REG_MIN] = enc(r, sod / 60 % 60);
	regs[REG_HOUR] = enc_hour(r, sod / 3600);
	regs[REG_WDAY] = enc(r, (unsigned)((days % 7 + 7 + 4) % 7) + 1); /* 1970-01-01 was a Thursday; Sunday is 1 */
	regs[REG_MDAY] = enc(r, d);
	regs[REG_MON] = enc(r, m);
	regs[REG_YEAR] = enc(r, (unsigned)(y % 100));
	*century = enc(r, (unsigned)(y / 100 % 100));
}

/* The time held in the registers (guest-written values are clamped to valid ranges). */
static int64_t parse_time(const struct rtc *r)
{
	const uint8_t *c = r->cmos;
	unsigned s = min_u(dec(r, c[REG_SEC]), 59), mi = min_u(dec(r, c[REG_MIN]), 59);
	unsigned h = min_u(dec_hour(r, c[REG_HOUR]), 23);
	unsigned d = min_u(dec(r, c[REG_MDAY]), 31), mo = min_u(dec(r, c[REG_MON]), 12);
	unsigned yy = min_u(dec(r, c[REG_YEAR]), 99), cent = min_u(dec(r, c[CMOS_CENTURY]), 99);
	if (!d)
		d = 1;
	if (!mo)
		mo = 1;
	int64_t days = days_from_civil((int64_t)cent * 100 + yy, mo, d);
	return days * 86400 + h * 3600 + mi * 60 + s;
}

static uint64_t T_at(const struct rtc *r, uint64_t now)
{
	return now + r->phase_ns;
}

static int64_t sec_at(const struct rtc *r, uint64_t now)
{
	return r->base_sec + (int64_t)(T_at(r, now) / NS);
}

static bool divider_runs(const struct rtc *r)
{
	return (r->cmos[REG_A] & A_DV) == A_DV_NORMAL;
}

/* log2 of the periodic interrupt's period in 32.768 kHz cycles, or -1 when off (datasheet
 * table 5: rates 1 and 2 repeat rates 8 and 9). */
static int periodic_shift(const struct rtc *r)
{
	unsigned rs = r->cmos[REG_A] & A_RS;
	if (!rs)
		return -1;
	return (int)(rs <= 2 ? rs + 7 : rs) - 1;
}

static uint64_t ticks32k(uint64_t T)
{
	return (uint64_t)(((unsigned __int128)T * 32768) / NS);
}

static bool alarm_byte_matches(uint8_t alarm, uint8_t now)
{
	return (alarm & 0xc0) == 0xc0 || alarm == now; /* 11xxxxxx is "don't care" */
}

/* The next update (as a T value) at which the alarm registers match the time, after T. */
static void find_alarm(struct rtc *r, uint64_t T)
{
	r->alarm_T = UINT64_MAX;
	if (r->stopped)
		return;
	const uint8_t *c = r->cmos;
	int64_t s0 = r->base_sec + (int64_t)(T / NS);
	int64_t sod0 = s0 - floor_div(s0, 86400) * 86400;
	for (int64_t k = 1; k <= 86400; k++) {
		unsigned sod = (unsigned)((sod0 + k) % 86400);
		if (alarm_byte_matches(c[REG_HOUR_ALARM], enc_hour(r, sod / 3600)) &&
		    alarm_byte_matches(c[REG_MIN_ALARM], enc(r, sod / 60 % 60)) &&
		    alarm_byte_matches(c[REG_SEC_ALARM], enc(r, sod % 60))) {
			r->alarm_T = (T / NS + (uint64_t)k) * NS;
			return;
		}
	}
}

/* Accumulates the flags of register C for the time between the last sync and now. */
static void sync_flags(struct rtc *r, uint64_t now)
{
	if (now <= r->synced_ns)
		return;
	uint64_t T0 = T_at(r, r->synced_ns), T1 = T_at(r, now);
	r->synced_ns = now;
	uint8_t *c = &r->cmos[REG_C];
	int sh = periodic_shift(r);
	if (divider_runs(r) && sh >= 0 && (ticks32k(T0) >> sh) != (ticks32k(T1) >> sh))
		*c |= C_PF;
	if (r->stopped)
		return;
	if (T0 / NS != T1 / NS)
		*c |= C_UF;
	if (r->alarm_T > T0 && r->alarm_T <= T1) {
		*c |= C_AF;
		find_alarm(r, T1);
	}
}

static void update_irq(struct rtc *r)
{
	uint8_t *c = &r->cmos[REG_C];
	if (!(*c & C_IRQF) && (*c & r->cmos[REG_B] & (C_PF | C_AF | C_UF))) {
		*c |= C_IRQF;
		irq_set(&r->irq, 1);
	}
}

/* Arms the host timer for the next event that would raise IRQ 8. */
static void arm(struct rtc *r, uint64_t now)
{
	if (!r->timers)
		return;
	uint8_t b = r->cmos[REG_B];
	uint64_t T = T_at(r, now), next = UINT64_MAX;
	if (!(r->cmos[REG_C] & C_IRQF)) {
		int sh = periodic_shift(r);
		if ((b & B_PIE) && divider_runs(r) && sh >= 0) {
			uint64_t k = ((ticks32k(T) >> sh) + 1) << sh;
			uint64_t t = (uint64_t)(((unsigned __int128)k * NS + 32767) / 32768);
			next = t < next ? t : next;
		}
		if ((b & B_UIE) && !r->stopped) {
			uint64_t t = (T / NS + 1) * NS;
			next = t < next ? t : next;
		}
		if ((b & B_AIE) && !r->stopped && r->alarm_T < next)
			next = r->alarm_T;
	}
	if (next == UINT64_MAX)
		timer_del(r->timers, &r->timer);
	else
		timer_mod(r->timers, &r->timer, next - r->phase_ns);
}

static void rtc_timer_cb(void *opaque)
{
	struct rtc *r = opaque;
	uint64_t now = r->now();
	sync_flags(r, now);
	update_irq(r);
	arm(r, now);
}

/* Stops or restarts the clock after SET or the divider changed. A divider leaving reset makes
 * the first update happen half a second later (datasheet, "divider chain reset"). */
static void apply_run_state(struct rtc *r, uint64_t now)
{
	bool want_stop = (r->cmos[REG_B] & B_SET) || !divider_runs(r);
	if (want_stop == r->stopped)
		return;
	if (want_stop) {
		format_time(r, sec_at(r, now), r->cmos, &r->cmos[CMOS_CENTURY]);
		r->stopped = true;
		r->alarm_T = UINT64_MAX;
		return;
	}
	int64_t sec = parse_time(r);
	if (r->divider_restart)
		r->phase_ns = (NS / 2 + NS - now % NS) % NS;
	r->divider_restart = false;
	r->base_sec = sec - (int64_t)(T_at(r, now) / NS);
	r->stopped = false;
	find_alarm(r, T_at(r, now));
}

static bool is_time_reg(unsigned idx)
{
	return idx == REG_SEC || idx == REG_MIN || idx == REG_HOUR || (idx >= REG_WDAY && idx <= REG_YEAR) ||
	       idx == CMOS_CENTURY;
}

static uint8_t cmos_read(struct rtc *r, unsigned idx)
{
	uint64_t now = r->now();
	switch (idx) {
	case REG_A: {
		uint8_t v = r->cmos[REG_A] & ~A_UIP;
		if (!r->stopped && T_at(r, now) % NS >= NS - UIP_NS)
			v |= A_UIP;
		return v;
	}
	case REG_C: {
		sync_flags(r, now);
		update_irq(r);
		uint8_t v = r->cmos[REG_C];
		r->cmos[REG_C] = 0;
		if (v & C_IRQF)
			irq_set(&r->irq, 0);
		arm(r, now);
		return v;
	}
	case REG_D: return D_VRT;
	default: break;
	}
	if (is_time_reg(idx) && !r->stopped) {
		uint8_t regs[10], century;
		format_time(r, sec_at(r, now), regs, &century);
		return idx == CMOS_CENTURY ? century : regs[idx];
	}
	return r->cmos[idx];
}

static void cmos_write(struct rtc *r, unsigned idx, uint8_t v)
{
	uint64_t now = r->now();
	sync_flags(r, now);
	switch (idx) {
	case REG_A:
		r->cmos[REG_A] = v & ~A_UIP;
		if (!divider_runs(r))
			r->divider_restart = true;
		apply_run_state(r, now);
		break;
	case REG_B: {
		if (v & B_SET)
			v &= ~B_UIE; /* datasheet: SET clears UIE */
		uint8_t old = r->cmos[REG_B];
		if ((v & B_SET) && !r->stopped) {
			r->cmos[REG_B] = old | B_SET; /* freeze the time in the old format */
			apply_run_state(r, now);
		}
		r->cmos[REG_B] = v;
		apply_run_state(r, now);
		if ((old ^ v) & (B_DM_BINARY | B_24H))
			find_alarm(r, T_at(r, now)); /* alarm bytes are compared in the current format */
		break;
	}
	case REG_C:
	case REG_D: break; /* read-only */
	case REG_SEC_ALARM:
	case REG_MIN_ALARM:
	case REG_HOUR_ALARM:
		r->cmos[idx] = v;
		find_alarm(r, T_at(r, now));
		break;
	default:
		if (is_time_reg(idx) && !r->stopped) {
			/* Writes while the clock runs land in the counters and counting goes on from them. */
			format_time(r, sec_at(r, now), r->cmos, &r->cmos[CMOS_CENTURY]);
			r->cmos[idx] = v;
			r->base_sec = parse_time(r) - (int64_t)(T_at(r, now) / NS);
			find_alarm(r, T_at(r, now));
		} else {
			r->cmos[idx] = v;
		}
		break;
	}
	update_irq(r);
	arm(r, now);
}

static uint64_t rtc_io_read(void *dev, uint64_t off, unsigned size)
{
	struct rtc *r = dev;
	if (off == 0)
		return 0xff; /* the index register is write-only */
	return cmos_read(r, r->index);
}

static void rtc_io_write(void *dev, uint64_t off, unsigned size, uint64_t val)
{
	struct rtc *r = dev;
	if (off == 0) {
		r->index = val & 0x7f;
		r->nmi_disabled = val & 0x80;
		return;
	}
	cmos_write(r, r->index, (uint8_t)val);
}

static const struct io_ops rtc_ops = { rtc_io_read, rtc_io_write };

static int64_t wall_realtime(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * (int64_t)NS + ts.tv_nsec;
}

static void put16(uint8_t *p, uint64_t v)
{
	if (v > 0xffff)
		v = 0xffff;
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

/* What a PC BIOS leaves in CMOS (IBM AT layout; SeaBIOS's extensions at 0x5b-0x5f). */
static void fill_cmos(struct rtc *r, const struct rtc_config *cfg)
{
	uint8_t *c = r->cmos;
	c[0x14] = 0x02 | (cfg->ps2_mouse ? 0x04 : 0); /* no floppy, FPU present, VGA */
	put16(&c[0x15], 640);
	uint64_t ext = cfg->ram_below_4g > (1u << 20) ? (cfg->ram_below_4g - (1u << 20)) >> 10 : 0;
	put16(&c[0x17], ext);
	put16(&c[0x30], ext);
	put16(&c[0x34], cfg->ram_below_4g > (16u << 20) ? (cfg->ram_below_4g - (16u << 20)) >> 16 : 0);
	uint64_t high = cfg->ram_above_4g >> 16;
	if (high > 0xffffff)
		high = 0xffffff;
	c[0x5b] = (uint8_t)high;
	c[0x5c] = (uint8_t)(high >> 8);
	c[0x5d] = (uint8_t)(high >> 16);
	if (cfg->cpus)
		c[0x5f] = (uint8_t)(cfg->cpus - 1);
	unsigned sum = 0;
	for (unsigned k = 0x10; k <= 0x2d; k++)
		sum += c[k];
	c[0x2e] = (uint8_t)(sum >> 8);
	c[0x2f] = (uint8_t)sum;
}

void rtc_reset(struct rtc *r)
{
	uint64_t now = r->now();
	sync_flags(r, now);
	/* The datasheet's RESET: clears PIE, AIE, UIE, SQWE and every flag of register C. */
	r->cmos[REG_B] &= ~(B_PIE | B_AIE | B_UIE | B_SQWE);
	if (r->cmos[REG_C] & C_IRQF)
		irq_set(&r->irq, 0);
	r->cmos[REG_C] = 0;
	r->nmi_disabled = false;
	arm(r, now);
}

bool rtc_nmi_disabled(const struct rtc *r)
{
	return r->nmi_disabled;
}

int64_t rtc_time(struct rtc *r)
{
	return r->stopped ? parse_time(r) : sec_at(r, r->now());
}

int rtc_init(struct rtc *r, struct iobus *pio, struct timer_list *timers, struct irq irq, const struct rtc_config *cfg)
{
	memset(r, 0, sizeof(*r));
	r->timers = timers;
	r->irq = irq;
	r->now = cfg->now ? cfg->now : clock_ns;
	r->wall = cfg->wall ? cfg->wall : wall_realtime;
	timer_init(&r->timer, rtc_timer_cb, r);
	/* The state a PC BIOS leaves: 32.768 kHz divider running, 1024 Hz rate, 24-hour BCD. */
	r->cmos[REG_A] = A_DV_NORMAL | 0x06;
	r->cmos[REG_B] = B_24H;
	fill_cmos(r, cfg);

	int64_t w = r->wall();
	uint64_t now = r->now();
	int64_t wsec = floor_div(w, (int64_t)NS);
	uint64_t wfrac = (uint64_t)(w - wsec * (int64_t)NS);
	r->phase_ns = (wfrac + NS - now % NS) % NS;
	r->base_sec = wsec - (int64_t)(T_at(r, now) / NS);
	r->synced_ns = now;
	uint8_t regs[10];
	format_time(r, wsec, regs, &r->cmos[CMOS_CENTURY]);
	find_alarm(r, T_at(r, now));
	if (!pio)
		return 0;
	return iobus_register(pio, 0x70, 2, &rtc_ops, r, "rtc");
}

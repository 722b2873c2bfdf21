/*
 * report.c — the benchmark report as one HTML page: inline CSS, inline SVG
 * charts drawn here (bars with intervals, per-epoch curves, the popularity
 * long tail), no script and nothing fetched, so it opens anywhere offline.
 */
#include "report.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>

typedef struct sb {
    char *s;
    size_t n, cap;
} sb;

static void sbf(sb *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sbf(sb *b, const char *fmt, ...) {
    va_list ap;
    for (;;) {
        va_start(ap, fmt);
        int k = vsnprintf(b->s ? b->s + b->n : NULL, b->s ? b->cap - b->n : 0, fmt, ap);
        va_end(ap);
        if (k < 0) return;
        if (b->s && b->n + (size_t)k < b->cap) {
            b->n += (size_t)k;
            return;
        }
        size_t nc = b->cap ? b->cap * 2 : 65536;
        while (nc < b->n + (size_t)k + 1) nc *= 2;
        b->s = drec_realloc(b->s, nc);
        b->cap = nc;
    }
}

/* Text for HTML and SVG: &, <, >, " escaped. */
static void esc(sb *b, const char *s) {
    for (; s && *s; s++) {
        switch (*s) {
        case '&': sbf(b, "&amp;"); break;
        case '<': sbf(b, "&lt;"); break;
        case '>': sbf(b, "&gt;"); break;
        case '"': sbf(b, "&quot;"); break;
        default: sbf(b, "%c", *s);
        }
    }
}

static const char *const palette[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
                                      "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f"};
static const char *color(int r) { return palette[r % (int)DREC_ARRAY_LEN(palette)]; }

static const char *fmtv(double v, char *buf, size_t n) {
    if (isnan(v))
        snprintf(buf, n, "–");
    else if (fabs(v) >= 100)
        snprintf(buf, n, "%.1f", v);
    else if (fabs(v) >= 1)
        snprintf(buf, n, "%.3f", v);
    else
        snprintf(buf, n, "%.4f", v);
    return buf;
}

/* A "nice" tick step (1, 2 or 5 times a power of ten) for a range. */
static double nice_step(double range, int ticks) {
    if (!(range > 0)) return 1;
    double raw = range / ticks, p = pow(10, floor(log10(raw))), f = raw / p;
    return (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * p;
}

typedef struct axis {
    double lo, hi;  /* data range */
    double p0, p1;  /* pixel range (p0 at lo) */
} axis;
static double ax(const axis *a, double v) {
    return a->hi > a->lo ? a->p0 + (v - a->lo) / (a->hi - a->lo) * (a->p1 - a->p0) : a->p0;
}

/* Horizontal grid lines and labels of a vertical axis at pixel x. */
static void y_ticks(sb *b, const axis *y, double x, double x_end, bool right, const char *fmt_pct) {
    double st = nice_step(y->hi - y->lo, 5);
    for (double v = ceil(y->lo / st) * st; v <= y->hi + st * 1e-9; v += st) {
        double py = ax(y, v);
        if (!right) sbf(b, "<line x1='%.1f' y1='%.1f' x2='%.1f' y2='%.1f' class='grid'/>", x, py, x_end, py);
        char lab[32];
        if (fmt_pct)
            snprintf(lab, sizeof lab, "%g%%", v * 100);
        else
            snprintf(lab, sizeof lab, "%g", fabs(v) < st * 1e-6 ? 0 : v);
        sbf(b, "<text x='%.1f' y='%.1f' class='tick' text-anchor='%s'>%s</text>", right ? x + 5 : x - 5, py + 4,
            right ? "start" : "end", lab);
    }
}

/* ---- the charts -------------------------------------------------------------- */

static void bar_chart(sb *b, const drec_report_input *in, int j, const drec_best *best) {
    const double W = 272, H = 230, L = 54, R = 10, T = 30, B = 68;
    double hi = 0;
    for (int r = 0; r < in->n_runs; r++) {
        const drec_metric_result *m = &in->runs[r].eval.m[j];
        if (!isnan(m->value)) hi = DREC_MAX(hi, m->value);
        if (!isnan(m->ci_hi)) hi = DREC_MAX(hi, m->ci_hi);
    }
    if (!(hi > 0)) hi = 1;
    hi *= 1.08;
    axis y = {0, hi, H - B, T};
    const char *name = in->runs[0].eval.m[j].name;
    sbf(b, "<svg class='chart' width='%g' height='%g' viewBox='0 0 %g %g' role='img'>", W, H, W, H);
    sbf(b, "<text x='%g' y='18' class='title' text-anchor='middle'>", W / 2);
    esc(b, name);
    sbf(b, "</text>");
    y_ticks(b, &y, L, W - R, false, NULL);
    sbf(b, "<line x1='%g' y1='%g' x2='%g' y2='%g' class='axis'/>", L, H - B, W - R, H - B);
    sbf(b, "<line x1='%g' y1='%g' x2='%g' y2='%g' class='axis'/>", L, T, L, H - B);
    sbf(b, "<text transform='translate(14 %g) rotate(-90)' class='label' text-anchor='middle'>", (T + H - B) / 2);
    esc(b, name);
    sbf(b, "</text>");
    int n = in->n_runs;
    double slot = (W - L - R) / n, bw = DREC_MIN(slot * 0.6, 48);
    for (int r = 0; r < n; r++) {
        const drec_metric_result *m = &in->runs[r].eval.m[j];
        double cx = L + slot * (r + 0.5);
        if (!isnan(m->value)) {
            double py = ax(&y, m->value);
            sbf(b, "<rect x='%.1f' y='%.1f' width='%.1f' height='%.1f' fill='%s'%s><title>", cx - bw / 2, py, bw,
                H - B - py, color(r), best && best->best == r ? " stroke='#000' stroke-width='2'" : "");
            esc(b, in->runs[r].name);
            char v1[32], v2[32], v3[32];
            sbf(b, " %s = %s (95%% CI %s – %s)</title></rect>", name, fmtv(m->value, v1, sizeof v1),
                fmtv(m->ci_lo, v2, sizeof v2), fmtv(m->ci_hi, v3, sizeof v3));
            if (!isnan(m->ci_lo) && !isnan(m->ci_hi)) {
                double y0 = ax(&y, m->ci_lo), y1 = ax(&y, m->ci_hi);
                sbf(b, "<path d='M%.1f %.1fV%.1fM%.1f %.1fH%.1fM%.1f %.1fH%.1f' class='err'/>", cx, y0, y1, cx - 6, y0,
                    cx + 6, cx - 6, y1, cx + 6);
            }
            if (n <= 4) /* wider bars have room for their value */
                sbf(b, "<text x='%.1f' y='%.1f' class='val' text-anchor='middle'>%s</text>", cx,
                    (!isnan(m->ci_hi) ? ax(&y, m->ci_hi) : py) - 4, fmtv(m->value, v1, sizeof v1));
        }
        if (n > 3) /* slanted names when bars are narrow */
            sbf(b, "<text transform='translate(%.1f %g) rotate(-35)' class='tick' text-anchor='end'>", cx + 3, H - B + 12);
        else
            sbf(b, "<text x='%.1f' y='%g' class='tick' text-anchor='middle'>", cx, H - B + 16);
        esc(b, in->runs[r].name);
        sbf(b, "</text>");
    }
    sbf(b, "<text x='%g' y='%g' class='label' text-anchor='middle'>model (error bars: 95%% bootstrap CI)</text>",
        (L + W - R) / 2, H - 12);
    sbf(b, "</svg>\n");
}

static void curve_chart(sb *b, const drec_run *run, int r) {
    const double W = 470, H = 250, L = 62, R = 62, T = 32, B = 46;
    int n = run->n_epochs;
    double llo = INFINITY, lhi = -INFINITY, vlo = INFINITY, vhi = -INFINITY;
    for (int e = 0; e < n; e++) {
        if (!isnan(run->loss_curve[e])) llo = DREC_MIN(llo, run->loss_curve[e]), lhi = DREC_MAX(lhi, run->loss_curve[e]);
        if (!isnan(run->val_curve[e])) vlo = DREC_MIN(vlo, run->val_curve[e]), vhi = DREC_MAX(vhi, run->val_curve[e]);
    }
    bool has_loss = llo <= lhi, has_val = vlo <= vhi;
    if (has_loss && lhi - llo < 1e-12) llo -= 0.5, lhi += 0.5;
    if (has_val && vhi - vlo < 1e-12) vlo -= 0.05, vhi += 0.05;
    if (has_loss) {
        double pad = (lhi - llo) * 0.08;
        llo -= pad, lhi += pad;
    }
    if (has_val) {
        double pad = (vhi - vlo) * 0.08;
        vlo -= pad, vhi += pad;
    }
    axis x = {1, n > 1 ? n : 2, L, W - R};
    axis yl = {llo, lhi, H - B, T}, yv = {vlo, vhi, H - B, T};
    sbf(b, "<svg class='chart' width='%g' height='%g' viewBox='0 0 %g %g' role='img'>", W, H, W, H);
    sbf(b, "<text x='%g' y='18' class='title' text-anchor='middle'>", W / 2);
    esc(b, run->name);
    const char *part = run->val_on_test ? "test" : "validation";
    sbf(b, ": training loss and %s %s per epoch</text>", part, run->val_metric);
    if (has_loss) y_ticks(b, &yl, L, W - R, false, NULL);
    if (has_val) y_ticks(b, &yv, W - R, W - R, true, NULL);
    sbf(b, "<line x1='%g' y1='%g' x2='%g' y2='%g' class='axis'/>", L, H - B, W - R, H - B);
    sbf(b, "<line x1='%g' y1='%g' x2='%g' y2='%g' class='axis'/>", L, T, L, H - B);
    sbf(b, "<line x1='%g' y1='%g' x2='%g' y2='%g' class='axis'/>", W - R, T, W - R, H - B);
    double st = nice_step(x.hi - x.lo, 8);
    if (st < 1) st = 1;
    for (double e = 1; e <= n + 1e-9; e += st)
        sbf(b, "<text x='%.1f' y='%g' class='tick' text-anchor='middle'>%g</text>", ax(&x, e), H - B + 15, e);
    sbf(b, "<text x='%g' y='%g' class='label' text-anchor='middle'>epoch</text>", (L + W - R) / 2, H - 10);
    sbf(b, "<text transform='translate(16 %g) rotate(-90)' class='label' text-anchor='middle' fill='%s'>training loss</text>",
        (T + H - B) / 2, color(r));
    sbf(b, "<text transform='translate(%g %g) rotate(90)' class='label' text-anchor='middle' fill='#444'>%s ",
        W - 14, (T + H - B) / 2, part);
    esc(b, run->val_metric);
    sbf(b, "</text>");
    for (int pass = 0; pass < 2; pass++) {
        const float *c = pass ? run->val_curve : run->loss_curve;
        const axis *ya = pass ? &yv : &yl;
        if (pass ? !has_val : !has_loss) continue;
        const char *col = pass ? "#444" : color(r);
        sbf(b, "<polyline fill='none' stroke='%s' stroke-width='2'%s points='", col, pass ? " stroke-dasharray='6 3'" : "");
        for (int e = 0; e < n; e++)
            if (!isnan(c[e])) sbf(b, "%.1f,%.1f ", ax(&x, e + 1), ax(ya, c[e]));
        sbf(b, "'/>");
        for (int e = 0; e < n; e++)
            if (!isnan(c[e]))
                sbf(b, "<circle cx='%.1f' cy='%.1f' r='3' fill='%s'><title>epoch %d: %g</title></circle>", ax(&x, e + 1),
                    ax(ya, c[e]), col, e + 1, c[e]);
    }
    /* legend */
    sbf(b, "<g class='legend'><line x1='%g' y1='%g' x2='%g' y2='%g' stroke='%s' stroke-width='2'/>"
           "<text x='%g' y='%g'>loss (left)</text>",
        L + 10, T + 8, L + 34, T + 8, color(r), L + 38, T + 12);
    sbf(b, "<line x1='%g' y1='%g' x2='%g' y2='%g' stroke='#444' stroke-width='2' stroke-dasharray='6 3'/>"
           "<text x='%g' y='%g'>validation (right)</text></g>",
        L + 120, T + 8, L + 144, T + 8, L + 148, T + 12);
    if (!has_val)
        sbf(b, "<text x='%g' y='%g' class='tick' text-anchor='middle'>(no validation values recorded)</text>",
            (L + W - R) / 2, T + 30);
    sbf(b, "</svg>\n");
}

typedef struct {
    int64_t c;
    int32_t i;
} pop_item;
static int cmp_pop(const void *x, const void *y) {
    const pop_item *a = x, *b = y;
    if (a->c != b->c) return a->c > b->c ? -1 : 1;
    return (a->i > b->i) - (a->i < b->i);
}

static void long_tail_chart(sb *b, const drec_report_input *in) {
    const drec_dataset *ds = in->train;
    int32_t I = ds->n_items;
    if (I <= 0) return;
    pop_item *order = drec_malloc((size_t)I * sizeof *order);
    double total = 0;
    for (int32_t i = 0; i < I; i++) {
        order[i] = (pop_item){ds->item_ptr[i + 1] - ds->item_ptr[i], i};
        total += (double)order[i].c;
    }
    if (ds->test)
        for (size_t r = 0; r < ds->test->n; r++)
            if (ds->test->item[r] >= 0 && ds->test->item[r] < I) {
                /* the catalogue is all of the data, test part included */
                total += 1;
            }
    int64_t *cat = drec_calloc((size_t)I, sizeof *cat);
    for (int32_t i = 0; i < I; i++) cat[i] = ds->item_ptr[i + 1] - ds->item_ptr[i];
    if (ds->test)
        for (size_t r = 0; r < ds->test->n; r++)
            if (ds->test->item[r] >= 0 && ds->test->item[r] < I) cat[ds->test->item[r]]++;
    for (int32_t i = 0; i < I; i++) order[i].c = cat[order[i].i];
    qsort(order, (size_t)I, sizeof *order, cmp_pop);
    const double W = 760, H = 400, L = 70, R = 200, T = 34, B = 52;
    axis x = {0, 1, L, W - R}, y = {0, 1, H - B, T};
    sbf(b, "<svg class='chart' width='%g' height='%g' viewBox='0 0 %g %g' role='img'>", W, H, W, H);
    sbf(b, "<text x='%g' y='20' class='title' text-anchor='middle'>Popularity long tail: cumulative share of "
           "recommendations vs of interactions</text>",
        (L + W - R) / 2);
    y_ticks(b, &y, L, W - R, false, "%");
    for (double v = 0; v <= 1.0001; v += 0.2)
        sbf(b, "<text x='%.1f' y='%g' class='tick' text-anchor='middle'>%g%%</text>", ax(&x, v), H - B + 16, v * 100);
    sbf(b, "<line x1='%g' y1='%g' x2='%g' y2='%g' class='axis'/>", L, H - B, W - R, H - B);
    sbf(b, "<line x1='%g' y1='%g' x2='%g' y2='%g' class='axis'/>", L, T, L, H - B);
    sbf(b, "<text x='%g' y='%g' class='label' text-anchor='middle'>items, most popular first (share of the "
           "catalogue of %d items)</text>",
        (L + W - R) / 2, H - 14, I);
    sbf(b, "<text transform='translate(18 %g) rotate(-90)' class='label' text-anchor='middle'>cumulative share</text>",
        (T + H - B) / 2);
    /* the 20% head */
    sbf(b, "<line x1='%.1f' y1='%g' x2='%.1f' y2='%g' stroke='#999' stroke-dasharray='2 3'/>", ax(&x, 0.2), T,
        ax(&x, 0.2), H - B);
    sbf(b, "<text x='%.1f' y='%g' class='tick'>head | long tail</text>", ax(&x, 0.2) + 4, H - B - 6);
    sbf(b, "<line x1='%g' y1='%g' x2='%g' y2='%g' stroke='#bbb' stroke-dasharray='5 4'/>", L, H - B, W - R, T);
    int n_series = in->n_runs + 1;
    for (int sidx = 0; sidx < n_series; sidx++) {
        const int64_t *cnt = sidx == 0 ? cat : in->runs[sidx - 1].eval.rec_count;
        if (!cnt) continue;
        double tot = 0;
        for (int32_t i = 0; i < I; i++) tot += (double)cnt[i];
        if (!(tot > 0)) continue;
        const char *col = sidx == 0 ? "#888" : color(sidx - 1);
        sbf(b, "<polyline fill='none' stroke='%s' stroke-width='%s' points='%.1f,%.1f ", col, sidx ? "2" : "3",
            ax(&x, 0), ax(&y, 0));
        double acc = 0;
        int step = I > 400 ? I / 400 : 1;
        for (int32_t k = 0; k < I; k++) {
            acc += (double)cnt[order[k].i];
            if ((k + 1) % step == 0 || k == I - 1)
                sbf(b, "%.1f,%.1f ", ax(&x, (double)(k + 1) / I), ax(&y, acc / tot));
        }
        sbf(b, "'/>");
        /* legend with the long-tail share */
        double tail = 0;
        for (int32_t k = (int32_t)ceil(0.2 * I); k < I; k++) tail += (double)cnt[order[k].i];
        double ly = T + 10 + 20 * sidx;
        sbf(b, "<line x1='%g' y1='%.1f' x2='%g' y2='%.1f' stroke='%s' stroke-width='3'/>", W - R + 12, ly, W - R + 34, ly, col);
        sbf(b, "<text x='%g' y='%.1f' class='tick'>", W - R + 38, ly + 4);
        if (sidx == 0)
            sbf(b, "catalogue");
        else
            esc(b, in->runs[sidx - 1].name);
        sbf(b, " (tail %.1f%%)</text>", 100 * tail / tot);
    }
    sbf(b, "<text x='%g' y='%.1f' class='tick'>dashed: uniform</text>", W - R + 12, T + 10 + 20 * n_series + 4);
    sbf(b, "</svg>\n");
    (void)total;
    free(order);
    free(cat);
}

/* ---- the page ------------------------------------------------------------------ */

static const char *css =
    "body{font-family:'DejaVu Sans',Arial,Helvetica,sans-serif;margin:20px 24px;color:#222;background:#fff;max-width:1150px}"
    "h1{font-size:24px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}"
    "p.meta{color:#555;margin:4px 0}table{border-collapse:collapse;font-size:12px;margin:8px 0}"
    "th,td{border:1px solid #ccc;padding:3px 5px;text-align:right;white-space:nowrap}th{background:#f3f3f3}"
    "td.name{text-align:left;font-weight:bold}td.best{background:#e8f4e8;font-weight:bold}"
    ".ci{color:#777;font-size:11px}.note{color:#555;font-size:13px}"
    ".charts{display:flex;flex-wrap:wrap;gap:8px}svg.chart{background:#fff;border:1px solid #e4e4e4}"
    "svg text{font-family:'DejaVu Sans',Arial,sans-serif}.title{font-size:13px;font-weight:bold}"
    ".tick{font-size:10px;fill:#444}.label{font-size:11px;fill:#333}.val{font-size:10px;fill:#222}"
    ".grid{stroke:#eee}.axis{stroke:#555}.err{stroke:#000;stroke-width:1.5;fill:none}.legend text{font-size:11px}"
    "td.sig{text-align:left;white-space:normal;font-size:12px;min-width:220px;max-width:320px}";

char *drec_report_html(const drec_report_input *in) {
    sb b = {0};
    sbf(&b, "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'><title>drec benchmark: ");
    esc(&b, in->data);
    sbf(&b, "</title><style>%s</style></head><body>\n<h1>drec benchmark</h1>\n<p class='meta'>data <b>", css);
    esc(&b, in->data);
    sbf(&b, "</b> &middot; protocol <b>");
    esc(&b, in->protocol);
    sbf(&b, "</b> &middot; seed %llu &middot; %d model%s</p>\n", (unsigned long long)in->seed, in->n_runs,
        in->n_runs == 1 ? "" : "s");
    if (in->n_runs < 1) {
        sbf(&b, "<p>No results.</p></body></html>\n");
        return b.s;
    }
    const drec_eval_result *e0 = &in->runs[0].eval;
    sbf(&b, "<p class='meta'>");
    if (e0->unit) sbf(&b, "%zu %s evaluated", e0->n_units, e0->unit);
    if (e0->n_rows) sbf(&b, "%s%zu test rows", e0->unit ? ", " : "", e0->n_rows);
    sbf(&b, ", %zu users skipped (no test item), %zu test rows not rankable", e0->n_skipped, e0->n_dropped);
    if (in->runs[0].n_folds > 1) sbf(&b, "; %d folds, values are fold means", in->runs[0].n_folds);
    sbf(&b, ".</p>\n");

    /* leaderboard */
    int nm = e0->n_metrics;
    drec_best best[DREC_MAX_METRICS];
    for (int j = 0; j < nm; j++) best[j] = drec_runs_best(in->runs, in->n_runs, j, in->seed);
    sbf(&b, "<h2>Leaderboard</h2>\n<table><tr><th style='text-align:left'>metric</th>");
    for (int r = 0; r < in->n_runs; r++) {
        sbf(&b, "<th><span style='color:%s'>&#9632;</span> ", color(r));
        esc(&b, in->runs[r].name);
        sbf(&b, "</th>");
    }
    if (in->n_runs > 1) sbf(&b, "<th style='text-align:left'>best vs runner-up (paired t-test)</th>");
    sbf(&b, "</tr>\n");
    for (int j = 0; j < nm; j++) {
        int dir = drec_metric_direction(e0->m[j].metric.kind);
        sbf(&b, "<tr><td class='name'>");
        esc(&b, e0->m[j].name);
        sbf(&b, "%s</td>", dir > 0 ? " &uarr;" : dir < 0 ? " &darr;" : "");
        for (int r = 0; r < in->n_runs; r++) {
            const drec_run *run = &in->runs[r];
            const drec_metric_result *m = &run->eval.m[j];
            bool isbest = best[j].best == r && in->n_runs > 1;
            char v[32], lo[32], hi[32];
            sbf(&b, "<td%s>%s%s%s", isbest ? " class='best'" : "", fmtv(m->value, v, sizeof v),
                isbest ? " &#9733;" : "", isbest && best[j].significant ? "&dagger;" : "");
            if (run->n_folds > 1 && !isnan(run->std[j]))
                sbf(&b, "<br><span class='ci'>&plusmn;%s sd</span>", fmtv(run->std[j], v, sizeof v));
            else if (!isnan(m->ci_lo))
                sbf(&b, "<br><span class='ci'>[%s, %s]</span>", fmtv(m->ci_lo, lo, sizeof lo), fmtv(m->ci_hi, hi, sizeof hi));
            sbf(&b, "</td>");
        }
        if (in->n_runs > 1) {
            const drec_best *bt = &best[j];
            sbf(&b, "<td class='sig'>");
            if (bt->best >= 0 && bt->second >= 0) {
                char d[32], lo[32], hi[32];
                double diff = in->runs[bt->best].eval.m[j].value - in->runs[bt->second].eval.m[j].value;
                esc(&b, in->runs[bt->best].name);
                sbf(&b, " vs ");
                esc(&b, in->runs[bt->second].name);
                sbf(&b, ": %s%s", diff >= 0 ? "+" : "", fmtv(diff, d, sizeof d));
                if (!isnan(bt->p_value))
                    sbf(&b, " <span class='ci'>[%s, %s]</span>, p %s %.2g, <b>%s</b>", fmtv(bt->diff_lo, lo, sizeof lo),
                        fmtv(bt->diff_hi, hi, sizeof hi), bt->p_value < 1e-16 ? "&lt;" : "=",
                        bt->p_value < 1e-16 ? 1e-16 : bt->p_value, bt->significant ? "significant" : "not significant");
                else
                    sbf(&b, " (no per-unit values: not tested)");
            } else
                sbf(&b, "&ndash;");
            sbf(&b, "</td>");
        }
        sbf(&b, "</tr>\n");
    }
    sbf(&b, "<tr><td class='name'>train seconds</td>");
    for (int r = 0; r < in->n_runs; r++) sbf(&b, "<td>%.2f</td>", in->runs[r].train_seconds);
    sbf(&b, "%s</tr>\n<tr><td class='name'>eval seconds</td>", in->n_runs > 1 ? "<td></td>" : "");
    for (int r = 0; r < in->n_runs; r++) sbf(&b, "<td>%.2f</td>", in->runs[r].eval_seconds);
    sbf(&b, "%s</tr>\n</table>\n", in->n_runs > 1 ? "<td></td>" : "");
    sbf(&b, "<p class='note'>&#9733; best per metric (&uarr; higher is better, &darr; lower is better; arp is "
            "descriptive); &dagger; its lead over the runner-up is significant at 95%% (two-sided paired t-test over "
            "the per-%s values; brackets after the difference: its 95%% bootstrap interval). Brackets after a value: "
            "95%% bootstrap confidence interval. Ties count against the held-out item.</p>\n",
        e0->unit && strcmp(e0->unit, "users") == 0 ? "user" : "unit");

    sbf(&b, "<h2>Metrics with 95%% confidence intervals</h2>\n<div class='charts'>\n");
    for (int j = 0; j < nm; j++) bar_chart(&b, in, j, in->n_runs > 1 ? &best[j] : NULL);
    sbf(&b, "</div>\n");

    sbf(&b, "<h2>Training curves</h2>\n<p class='note'>Mean training loss per epoch (solid, left axis) and the "
            "validation metric measured on the test part after each epoch (dashed, right axis; monitoring only).</p>\n"
            "<div class='charts'>\n");
    for (int r = 0; r < in->n_runs; r++) {
        const drec_run *run = &in->runs[r];
        if (run->n_epochs > 0)
            curve_chart(&b, run, r);
        else {
            sbf(&b, "<p class='note'><b>");
            esc(&b, run->name);
            sbf(&b, "</b>: fitted in one pass (no epochs to plot).</p>\n");
        }
    }
    sbf(&b, "</div>\n");

    sbf(&b, "<h2>Popularity long tail</h2>\n<p class='note'>Items sorted by how many interactions they have in the "
            "data (most popular first). Each curve is the cumulative share of a model's top-%d recommendations going to "
            "the items left of that point; the grey curve is the same for the interactions themselves. A curve above "
            "the grey one concentrates on popular items; \"tail\" is the share outside the 20%% most popular items.</p>\n",
        e0->list_k);
    long_tail_chart(&b, in);
    sbf(&b, "<p class='note'>Generated by drec " DREC_VERSION ".</p>\n</body></html>\n");
    return b.s;
}

drec_status drec_report_write(const char *dir, const drec_report_input *in) {
    if (mkdir(dir, 0755) != 0 && errno != EEXIST)
        return drec_fail(DREC_ERR_IO, "%s: cannot create the folder: %s", dir, strerror(errno));
    char *html = drec_report_html(in);
    char path[4096];
    snprintf(path, sizeof path, "%s/index.html", dir);
    drec_status st = drec_write_file_atomic(path, html, strlen(html));
    free(html);
    return st;
}

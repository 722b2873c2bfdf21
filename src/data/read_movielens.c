/*
 * read_movielens.c — the movielens: reader: the three GroupLens layouts.
 *
 *   100K    u.data (tab: user item rating ts), u.item (pipe, Latin-1: id,
 *           title, dates, URL, 19 genre flags), u.user (id|age|gender|
 *           occupation|zip).  Any file of the u.data layout (u1.base, ...)
 *           may be named instead of u.data.
 *   1M      ratings.dat, movies.dat (id::title::G1|G2), users.dat
 *           (id::gender::age code::occupation code::zip), "::"-separated.
 *   latest  ratings.csv (header userId,movieId,rating,timestamp), movies.csv
 *           (movieId,title,genres with quoted titles); no user file.
 *
 * The ratings define the users and items (dense ids in order of first
 * sight); the side files only describe them: titles converted to UTF-8,
 * item attributes "genre=X" (multi-hot) with the first genre as the item's
 * category, user attributes "age=25-34", "gender=F", "occupation=writer",
 * "region=9" (first zip digit).  Side files that are absent are skipped.
 */
#include "textio.h"

#include <stdio.h>

static const char *const genres_100k[19] = {
    "unknown", "Action",  "Adventure", "Animation", "Children's", "Comedy",   "Crime",
    "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror",     "Musical",  "Mystery",
    "Romance", "Sci-Fi",  "Thriller",  "War",       "Western"};

/* MovieLens 1M README, "Occupation is chosen from the following choices". */
static const char *const occupations_1m[21] = {
    "other", "academic/educator", "artist", "clerical/admin", "college/grad student", "customer service",
    "doctor/health care", "executive/managerial", "farmer", "homemaker", "K-12 student", "lawyer",
    "programmer", "retired", "sales/marketing", "scientist", "self-employed", "technician/engineer",
    "tradesman/craftsman", "unemployed", "writer"};

typedef enum { ML_100K, ML_1M, ML_LATEST } ml_layout;

/* The 1M age groups, also used to band the raw ages of 100K. */
static const char *age_band(long age) {
    if (age < 18) return "under-18";
    if (age < 25) return "18-24";
    if (age < 35) return "25-34";
    if (age < 45) return "35-44";
    if (age < 50) return "45-49";
    if (age < 56) return "50-55";
    return "56+";
}

static bool ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

static void add_genre(drec_side *sd, int32_t i, const char *g, size_t len) {
    char name[128];
    snprintf(name, sizeof name, "%.*s", (int)DREC_MIN(len, sizeof name - 1), g);
    drec_attrs_add(&sd->item_attrs, i, "genre", name, 1.0f);
    if (sd->item_category[i] < 0) sd->item_category[i] = drec_strmap_intern(&sd->categories, name, strlen(name));
}

static void set_title(drec_side *sd, int32_t i, const drec_field *f) {
    free(sd->item_title[i]);
    sd->item_title[i] = drec_to_utf8(f->s, f->len);
}

static void add_user_attrs(drec_side *sd, int32_t u, const char *age, const drec_field *gender,
                           const drec_field *occ, const drec_field *zip) {
    char buf[128];
    drec_attrs_add(&sd->user_attrs, u, "age", age, 1.0f);
    snprintf(buf, sizeof buf, "%.*s", (int)DREC_MIN(gender->len, 100), gender->s);
    drec_attrs_add(&sd->user_attrs, u, "gender", buf, 1.0f);
    if (occ) {
        snprintf(buf, sizeof buf, "%.*s", (int)DREC_MIN(occ->len, 100), occ->s);
        drec_attrs_add(&sd->user_attrs, u, "occupation", buf, 1.0f);
    }
    if (zip->len) {
        buf[0] = (zip->s[0] >= '0' && zip->s[0] <= '9') ? zip->s[0] : '?';
        buf[1] = '\0';
        drec_attrs_add(&sd->user_attrs, u, "region", buf[0] == '?' ? "other" : buf, 1.0f);
    }
}

static drec_status read_items(const char *path, ml_layout lay, drec_dataset *ds) {
    drec_text t;
    drec_status st = drec_text_open(&t, path);
    if (st) return st;
    drec_side *sd = ds->side;
    bool first = true;
    while (drec_text_next(&t)) {
        if (drec_text_blank(&t)) continue;
        if (lay == ML_LATEST && first) {
            first = false;
            drec_text_split(&t, ',', true);
            if (t.nf && t.f[0].len && !(t.f[0].s[0] >= '0' && t.f[0].s[0] <= '9')) continue; /* header */
        }
        first = false;
        size_t nf = lay == ML_100K ? drec_text_split(&t, '|', false)
                    : lay == ML_1M ? drec_text_split(&t, DREC_SEP_COLONS, false)
                                   : drec_text_split(&t, ',', true);
        size_t want = lay == ML_100K ? 24 : 3;
        if (nf != want) {
            st = drec_text_fail(&t, "expected %zu fields in a movie line, found %zu", want, nf);
            break;
        }
        int32_t i = drec_strmap_find(&sd->items, t.f[0].s, t.f[0].len);
        if (i < 0) continue; /* a movie nobody rated in this ratings file */
        set_title(sd, i, &t.f[1]);
        if (lay == ML_100K) {
            for (int g = 0; g < 19; g++) {
                const drec_field *f = &t.f[5 + g];
                if (f->len == 1 && f->s[0] == '1') add_genre(sd, i, genres_100k[g], strlen(genres_100k[g]));
                else if (!(f->len == 1 && f->s[0] == '0')) {
                    char b[64];
                    st = drec_text_fail(&t, "genre flag %d is %s, expected 0 or 1", g + 1,
                                        drec_field_show(f->s, f->len, b));
                    goto done;
                }
            }
        } else {
            const drec_field *f = &t.f[2];
            if (f->len && !(f->len == 18 && memcmp(f->s, "(no genres listed)", 18) == 0)) {
                const char *s = f->s, *e = f->s + f->len;
                while (s < e) {
                    const char *bar = memchr(s, '|', (size_t)(e - s));
                    if (!bar) bar = e;
                    if (bar > s) add_genre(sd, i, s, (size_t)(bar - s));
                    s = bar + 1;
                }
            }
        }
    }
done:
    drec_text_close(&t);
    return st;
}

static drec_status read_users(const char *path, ml_layout lay, drec_dataset *ds) {
    drec_text t;
    drec_status st = drec_text_open(&t, path);
    if (st) return st;
    drec_side *sd = ds->side;
    char b[64];
    while (drec_text_next(&t)) {
        if (drec_text_blank(&t)) continue;
        size_t nf = lay == ML_100K ? drec_text_split(&t, '|', false) : drec_text_split(&t, DREC_SEP_COLONS, false);
        if (nf != 5) {
            st = drec_text_fail(&t, "expected 5 fields in a user line, found %zu", nf);
            break;
        }
        int32_t u = drec_strmap_find(&sd->users, t.f[0].s, t.f[0].len);
        if (u < 0) continue;
        /* 100K: id|age|gender|occupation|zip; 1M: id::gender::age::occupation::zip. */
        const drec_field *fage = lay == ML_100K ? &t.f[1] : &t.f[2];
        const drec_field *fgen = lay == ML_100K ? &t.f[2] : &t.f[1];
        int64_t age, occ;
        if (!drec_parse_i64(fage->s, fage->len, &age) || age < 0 || age > 150) {
            st = drec_text_fail(&t, "age %s is not a number of years", drec_field_show(fage->s, fage->len, b));
            break;
        }
        if (lay == ML_100K) {
            add_user_attrs(sd, u, age_band(age), fgen, &t.f[3], &t.f[4]);
        } else {
            if (!drec_parse_i64(t.f[3].s, t.f[3].len, &occ) || occ < 0 || occ > 20) {
                st = drec_text_fail(&t, "occupation %s is not a code 0..20", drec_field_show(t.f[3].s, t.f[3].len, b));
                break;
            }
            drec_field focc = {occupations_1m[occ], strlen(occupations_1m[occ])};
            add_user_attrs(sd, u, age_band(age), fgen, &focc, &t.f[4]);
        }
    }
    drec_text_close(&t);
    return st;
}

drec_status drec_read_movielens(const char *path, const drec_params *opts, drec_dataset **out) {
    (void)opts;
    *out = NULL;
    char *dir, *ratings;
    if (drec_path_is_dir(path)) {
        dir = drec_strdup(path);
        static const char *const names[] = {"u.data", "ratings.dat", "ratings.csv"};
        ratings = NULL;
        for (size_t k = 0; k < DREC_ARRAY_LEN(names) && !ratings; k++) {
            char *p = drec_path_join(dir, names[k]);
            if (drec_path_exists(p))
                ratings = p;
            else
                free(p);
        }
        if (!ratings) {
            free(dir);
            return drec_fail(DREC_ERR_INPUT, "%s: no u.data, ratings.dat or ratings.csv in this folder", path);
        }
    } else {
        dir = drec_path_dir(path);
        ratings = drec_strdup(path);
    }
    ml_layout lay = ends_with(ratings, ".dat") ? ML_1M : ends_with(ratings, ".csv") ? ML_LATEST : ML_100K;

    drec_dataset *ds = drec_ds_new(DREC_DS_INTERACTIONS, path);
    ds->has_rating = true;
    ds->has_time = true;
    drec_text t;
    drec_status st = drec_text_open(&t, ratings);
    if (!st) {
        drec_table_spec spec = {.sep = lay == ML_100K ? '\t' : lay == ML_1M ? DREC_SEP_COLONS : ',',
                                .quotes = false,
                                .header = false,
                                .user_col = 0,
                                .item_col = 1,
                                .rating_col = 2,
                                .time_col = 3,
                                .n_fields = 4,
                                .what = "rating line"};
        if (lay == ML_LATEST) {
            /* The header is optional so that hand-cut files also load. */
            const char *p = t.p;
            spec.header = !(*p >= '0' && *p <= '9');
        }
        st = drec_text_read_table(&t, &spec, ds);
        drec_text_close(&t);
    }
    if (!st && ds->n == 0) st = drec_fail(DREC_ERR_INPUT, "%s: no ratings", ratings);

    drec_side *sd = ds->side;
    int32_t n_items = sd->items.n;
    if (!st) {
        sd->item_title = drec_calloc((size_t)n_items + 1, sizeof *sd->item_title);
        sd->item_category = drec_malloc(((size_t)n_items + 1) * sizeof *sd->item_category);
        for (int32_t i = 0; i < n_items; i++) sd->item_category[i] = -1;
        const char *item_file = lay == ML_100K ? "u.item" : lay == ML_1M ? "movies.dat" : "movies.csv";
        char *p = drec_path_join(dir, item_file);
        if (drec_path_exists(p)) st = read_items(p, lay, ds);
        free(p);
    }
    if (!st && lay != ML_LATEST) {
        char *p = drec_path_join(dir, lay == ML_100K ? "u.user" : "users.dat");
        if (drec_path_exists(p)) st = read_users(p, lay, ds);
        free(p);
    }
    free(dir);
    free(ratings);
    if (st) {
        drec_dataset_free(ds);
        return st;
    }
    drec_attrs_finish(&sd->item_attrs, n_items);
    drec_attrs_finish(&sd->user_attrs, sd->users.n);
    drec_ds_finish(ds);
    *out = ds;
    return DREC_OK;
}

/*
 * world.c — the synthetic world: a generative model of users, items and
 * their interactions that yields drec's built-in dataset (synthetic:) and
 * serves as the online environment of the simulator.  world.h states the
 * model and the contract of every function; this file keeps the two uses on
 * one utility function so that what a policy learns from the history is
 * what the simulator rewards.
 *
 * Shapes: U = users, I = items, C = categories, d = latent width,
 * K = item neighbours (Markov transitions), M = exposed candidates.
 */
#include "world.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#define MAX_CATS 20
#define N_STYLES 16
#define N_AGES 5
#define K_NBR 10          /* neighbours per item                          */
#define M_EXPOSE 20       /* candidates exposed per fresh choice          */
#define P_FOLLOW 0.35     /* chance that an event follows the last item   */
#define P_TREND 0.1       /* chance that a category comes from the crowd  */
#define CHOICE_TEMP 0.6   /* softmax temperature of the choice on utility */
#define CLICK_SCALE 1.5   /* click logit = CLICK_SCALE * util + B          */
#define CLICK_MEAN 0.05   /* B makes a random (user, item) click this often */
#define SLATE_DECAY 0.85  /* attention lost per slate position            */
#define DRIFT_STEPS 1e5   /* simulation steps per unit of taste drift      */
#define EPOCH 1704067200  /* 2024-01-01 00:00 UTC: the history's start     */

/* ---- vocabulary --------------------------------------------------------- */

typedef struct cat_vocab {
    const char *name;
    float median_price;
    const char *nouns[8];  /* title nouns                  */
    const char *words[10]; /* description topic words      */
} cat_vocab;

static const cat_vocab vocab[MAX_CATS] = {
    {"Books", 15, {"Novel", "Chronicle", "Saga", "Memoir", "Anthology", "Tale", "Almanac", "Diary"},
     {"novel", "chapter", "author", "story", "paperback", "reading", "literary", "fiction", "plot", "narrator"}},
    {"Jazz", 12, {"Quartet", "Groove", "Standard", "Session", "Ballad", "Swing", "Blues", "Suite"},
     {"saxophone", "trumpet", "improvisation", "bebop", "swing", "rhythm", "trio", "vinyl", "club", "bassline"}},
    {"Rock", 13, {"Anthem", "Riff", "Album", "Encore", "Stage", "Chord", "Garage", "Amplifier"},
     {"guitar", "drums", "distortion", "band", "stadium", "solo", "punk", "headliner", "chorus", "riff"}},
    {"Classical", 14, {"Symphony", "Sonata", "Concerto", "Overture", "Requiem", "Nocturne", "Etude", "Fugue"},
     {"orchestra", "violin", "piano", "conductor", "opus", "movement", "chamber", "baroque", "composer",
      "philharmonic"}},
    {"Movies", 18, {"Feature", "Thriller", "Drama", "Comedy", "Western", "Epic", "Noir", "Premiere"},
     {"film", "director", "cinema", "actor", "screenplay", "trailer", "sequel", "studio", "scene", "blockbuster"}},
    {"Games", 45, {"Quest", "Arena", "Legend", "Dungeon", "Puzzle", "Racer", "Kingdom", "Tactics"},
     {"console", "multiplayer", "level", "controller", "boss", "pixel", "strategy", "rpg", "arcade", "gamer"}},
    {"Sports", 60, {"Racket", "Jersey", "Trainer", "Ball", "Helmet", "Glove", "Sneaker", "Bat"},
     {"fitness", "workout", "league", "coach", "training", "athletic", "score", "tournament", "goal", "sprint"}},
    {"Cooking", 30, {"Skillet", "Cookbook", "Spice", "Knife", "Wok", "Blender", "Apron", "Recipe"},
     {"kitchen", "recipe", "flavor", "chef", "baking", "cuisine", "ingredient", "oven", "spice", "dinner"}},
    {"Travel", 400, {"Voyage", "Getaway", "Cruise", "Journey", "Retreat", "Tour", "Escape", "Expedition"},
     {"flight", "hotel", "beach", "passport", "itinerary", "resort", "island", "luggage", "destination", "guide"}},
    {"Science", 35, {"Telescope", "Microscope", "Atlas", "Lab", "Primer", "Theory", "Kit", "Encyclopedia"},
     {"physics", "chemistry", "experiment", "astronomy", "biology", "research", "laboratory", "discovery", "data",
      "molecule"}},
    {"Fashion", 70, {"Jacket", "Dress", "Scarf", "Boot", "Handbag", "Coat", "Blazer", "Sweater"},
     {"style", "fabric", "designer", "runway", "cotton", "wool", "tailored", "trend", "outfit", "wardrobe"}},
    {"Garden", 40, {"Planter", "Trowel", "Seedling", "Rosebush", "Greenhouse", "Hose", "Orchid", "Fern"},
     {"soil", "plant", "bloom", "seed", "compost", "flower", "shrub", "pruning", "garden", "lawn"}},
    {"Toys", 25, {"Robot", "Doll", "Blocks", "Kite", "Train", "Teddy", "Marbles", "Playhouse"},
     {"kids", "play", "toddler", "plush", "building", "fun", "educational", "imagination", "figure", "playset"}},
    {"Art", 90, {"Canvas", "Sketchbook", "Easel", "Palette", "Print", "Sculpture", "Portrait", "Mural"},
     {"painting", "acrylic", "watercolor", "gallery", "brush", "artist", "sketch", "exhibit", "pigment", "drawing"}},
    {"Health", 28, {"Vitamin", "Tonic", "Mat", "Balm", "Tea", "Supplement", "Massager", "Remedy"},
     {"wellness", "yoga", "sleep", "immune", "nutrition", "herbal", "meditation", "organic", "protein", "relief"}},
    {"Tech", 250, {"Laptop", "Headphones", "Router", "Tablet", "Speaker", "Charger", "Camera", "Drone"},
     {"wireless", "battery", "bluetooth", "processor", "usb", "display", "gadget", "smart", "sensor", "firmware"}},
    {"Comics", 10, {"Manga", "Issue", "Hero", "Villain", "Strip", "Omnibus", "Annual", "Sidekick"},
     {"superhero", "panel", "ink", "illustrator", "villain", "issue", "manga", "cape", "universe", "crossover"}},
    {"Outdoors", 120, {"Tent", "Backpack", "Lantern", "Compass", "Canoe", "Hammock", "Stove", "Trail"},
     {"camping", "hiking", "trail", "mountain", "wilderness", "fishing", "campfire", "summit", "waterproof",
      "gear"}},
    {"Pets", 22, {"Leash", "Collar", "Kibble", "Aquarium", "Scratcher", "Kennel", "Treats", "Perch"},
     {"dog", "cat", "puppy", "kitten", "grooming", "chew", "treat", "paw", "veterinary", "feline"}},
    {"Home", 80, {"Lamp", "Rug", "Vase", "Cushion", "Candle", "Mirror", "Clock", "Shelf"},
     {"decor", "furniture", "cozy", "interior", "living", "bedroom", "ceramic", "lighting", "table", "curtain"}},
};

/* Style words: latent dimension k reads as pair k % N_STYLES, the first
 * word for a positive value, the second for a negative one. */
static const char *const styles[N_STYLES][2] = {
    {"Bright", "Dark"},   {"Classic", "Modern"}, {"Calm", "Wild"},     {"Simple", "Intricate"},
    {"Golden", "Silver"}, {"Gentle", "Bold"},    {"Tiny", "Grand"},    {"Warm", "Cool"},
    {"Quiet", "Loud"},    {"Ancient", "Future"}, {"Sweet", "Bitter"},  {"Rustic", "Urban"},
    {"Soft", "Sharp"},    {"Happy", "Moody"},    {"Light", "Heavy"},   {"Northern", "Southern"},
};

static const char *const fillers[] = {"edition", "set", "series", "pack", "deluxe",
                                      "original", "collection", "limited", "special", "essentials"};
static const char *const ages[N_AGES] = {"18-24", "25-34", "35-44", "45-54", "55+"};
static const float age_p[N_AGES] = {0.15f, 0.30f, 0.25f, 0.17f, 0.13f};
static const float age_sens[N_AGES] = {0.45f, 0.30f, 0.20f, 0.15f, 0.25f}; /* price sensitivity */
static const char *const regions[] = {"North", "South", "East", "West", "Central"};
static const char *const devices[DREC_WORLD_DEVICES] = {"mobile", "desktop", "tablet"};
static const float device_p[DREC_WORLD_DEVICES] = {0.55f, 0.35f, 0.10f};
static const float tod_p[DREC_WORLD_TODS] = {0.10f, 0.25f, 0.30f, 0.35f};

/* ---- the world ---------------------------------------------------------- */

struct drec_world {
    uint64_t seed;
    int32_t U, I, C, d;
    double events;
    int64_t shock;
    bool implicit;

    float *base;    /* (U, d) taste at the history's start               */
    float *drift;   /* (U, d) taste change per unit of tau              */
    float *jolt;    /* (U, d) taste change from the shock on            */
    float *profile; /* (U, d) noisy base: what features reveal           */
    float *item_emb; /* (I, d) noisy v: what item features reveal        */
    float *aff;     /* (U, C) category affinity, sums to 1               */
    uint8_t *age, *region, *device, *tod; /* (U)                         */

    float *v;        /* (I, d) latent factors                             */
    int32_t *cat;    /* (I) category                                      */
    float *price;    /* (I)                                               */
    float *lprice;   /* (I) log(price / category median)                  */
    float *popterm;  /* (I) 0.3 log(I pop_i)                              */
    float *centroid; /* (C, d)                                            */
    float cat_w[MAX_CATS];   /* crowd share of each category              */
    int32_t link[MAX_CATS];  /* the category a session may wander to      */
    int32_t perm[MAX_CATS];  /* after the shock, aff[c] reads aff[perm[c]] */
    float tod_cat[DREC_WORLD_TODS][MAX_CATS];
    float dev_cat[DREC_WORLD_DEVICES][MAX_CATS];

    int32_t *cat_ptr;   /* (C + 1) items of category c: cat_items[ptr[c]..) */
    int32_t *cat_items; /* (I)                                             */
    float *alias_p;     /* (I) Vose alias table over popularity, per category */
    int32_t *alias_j;   /* (I) local index of the alias                    */
    int32_t *nbr;       /* (I, K) neighbours                               */
    uint8_t *n_nbr;     /* (I)                                             */

    double click_b;          /* B of the click logit                      */
    double util_mu, util_sd; /* utility of random pairs, for ratings      */

    drec_dataset *ds;
    int32_t *session; /* (N) */
};

/* ---- spec ----------------------------------------------------------------- */

typedef struct spec {
    long long users, items, events, seed, dim, categories, shock, implicit;
} spec;

static drec_status parse_spec(const char *args, spec *sp) {
    *sp = (spec){2000, 1000, 40, 1, 8, 16, -1, 0};
    static const struct {
        const char *key;
        size_t off;
        long long lo, hi;
    } keys[] = {
        {"users", offsetof(spec, users), 1, 50000000},
        {"items", offsetof(spec, items), 2, 10000000},
        {"events", offsetof(spec, events), 1, 100000},
        {"seed", offsetof(spec, seed), 0, INT64_MAX},
        {"dim", offsetof(spec, dim), 1, 256},
        {"categories", offsetof(spec, categories), 1, MAX_CATS},
        {"shock", offsetof(spec, shock), 0, INT64_MAX},
        {"implicit", offsetof(spec, implicit), 0, 1},
    };
    const char *p = args ? args : "";
    while (*p) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        const char *eq = memchr(p, '=', len);
        if (!eq)
            return drec_fail(DREC_ERR_USAGE, "synthetic: \"%.*s\": expected key=value (keys: users, items, events, "
                                             "seed, dim, categories, shock, implicit)",
                             (int)len, p);
        size_t klen = (size_t)(eq - p);
        size_t k = 0;
        while (k < DREC_ARRAY_LEN(keys) && (strlen(keys[k].key) != klen || strncmp(keys[k].key, p, klen) != 0)) k++;
        if (k == DREC_ARRAY_LEN(keys))
            return drec_fail(DREC_ERR_USAGE,
                             "synthetic: unknown key \"%.*s\" (keys: users, items, events, seed, dim, categories, "
                             "shock, implicit)",
                             (int)klen, p);
        char val[32];
        size_t vlen = len - klen - 1;
        char *vend = NULL;
        long long x = 0;
        if (vlen > 0 && vlen < sizeof val) {
            memcpy(val, eq + 1, vlen);
            val[vlen] = 0;
            errno = 0;
            x = strtoll(val, &vend, 10);
        }
        if (!vend || *vend || errno || vlen == 0 || !isdigit((unsigned char)val[0]) || x < keys[k].lo ||
            x > keys[k].hi)
            return drec_fail(DREC_ERR_USAGE, "synthetic: %s=%.*s: expected an integer in %lld..%lld", keys[k].key,
                             (int)vlen, eq + 1, keys[k].lo, keys[k].hi);
        *(long long *)((char *)sp + keys[k].off) = x;
        p = end ? end + 1 : p + len;
    }
    if ((double)sp->users * (double)sp->events > 1e9)
        return drec_fail(DREC_ERR_USAGE, "synthetic: users=%lld x events=%lld is over 1e9 interactions", sp->users,
                         sp->events);
    return DREC_OK;
}

/* ---- small helpers -------------------------------------------------------- */

static int pick(drec_rng *r, const float *p, int n) {
    double u = drec_rng_double(r), acc = 0;
    for (int k = 0; k < n - 1; k++) {
        acc += p[k];
        if (u < acc) return k;
    }
    return n - 1;
}

static float dotf(const float *a, const float *b, int d) {
    float s = 0;
    for (int k = 0; k < d; k++) s += a[k] * b[k];
    return s;
}

/* Vose's alias method over w[0..n): O(1) draws in proportion to w. */
static void alias_build(const float *w, int n, float *prob, int32_t *alias) {
    double sum = 0;
    for (int k = 0; k < n; k++) sum += w[k];
    double *q = drec_malloc((size_t)n * sizeof *q);
    int32_t *small = drec_malloc((size_t)n * sizeof *small), *large = drec_malloc((size_t)n * sizeof *large);
    int ns = 0, nl = 0;
    for (int k = 0; k < n; k++) {
        q[k] = w[k] * n / sum;
        if (q[k] < 1.0)
            small[ns++] = k;
        else
            large[nl++] = k;
    }
    while (ns && nl) {
        int s = small[--ns], l = large[--nl];
        prob[s] = (float)q[s];
        alias[s] = l;
        q[l] -= 1.0 - q[s];
        if (q[l] < 1.0)
            small[ns++] = l;
        else
            large[nl++] = l;
    }
    while (nl) {
        int l = large[--nl];
        prob[l] = 1.0f;
        alias[l] = l;
    }
    while (ns) {
        int s = small[--ns];
        prob[s] = 1.0f;
        alias[s] = s;
    }
    free(q);
    free(small);
    free(large);
}

/* An item of category c, drawn in proportion to popularity. */
static int32_t draw_in_cat(const drec_world *w, drec_rng *r, int c) {
    int32_t a = w->cat_ptr[c], n = w->cat_ptr[c + 1] - a;
    int32_t k = (int32_t)drec_rng_below(r, (uint32_t)n);
    if (drec_rng_float(r) >= w->alias_p[a + k]) k = w->alias_j[a + k];
    return w->cat_items[a + k];
}

/* tanh through expf: glibc's tanhf goes through expm1f and took a third of
 * the generation time; this form is within 2e-7 of tanh. */
static inline float fast_tanh(float x) { return 1.0f - 2.0f / (expf(2.0f * x) + 1.0f); }

/* The utility of item i for a user whose current taste is `taste`;
 * catterm[c] already holds the category, context terms of this user. */
static inline float util_of(const drec_world *w, const float *taste, const float *catterm, float sens, int32_t i) {
    float x = dotf(taste, w->v + (size_t)i * w->d, w->d) / sqrtf((float)w->d);
    return 1.6f * fast_tanh(x) + catterm[w->cat[i]] + w->popterm[i] - sens * w->lprice[i];
}

/* Per-category part of the utility: affinity and context. */
static void cat_terms(const drec_world *w, int32_t u, int tod, int dev, bool shocked, float *out) {
    const float *a = w->aff + (size_t)u * w->C;
    for (int c = 0; c < w->C; c++) {
        float af = a[shocked ? w->perm[c] : c];
        out[c] = 0.7f * logf((float)w->C * af + 0.2f) + w->tod_cat[tod][c] + w->dev_cat[dev][c];
    }
}

/* The user's taste at simulation step t. */
static void sim_taste(const drec_world *w, const drec_world_ctx *c, float *taste, float *catterm) {
    bool shocked = w->shock >= 0 && c->step >= w->shock;
    double tau = 1.0 + (double)c->step / DRIFT_STEPS;
    const float *b = w->base + (size_t)c->user * w->d, *dr = w->drift + (size_t)c->user * w->d;
    const float *j = w->jolt + (size_t)c->user * w->d;
    for (int k = 0; k < w->d; k++) taste[k] = b[k] + (float)tau * dr[k] + (shocked ? j[k] : 0.0f);
    cat_terms(w, c->user, c->tod, c->device, shocked, catterm);
}

/* ---- building the world ------------------------------------------------------ */

static void build_users(drec_world *w, drec_rng *r) {
    int U = w->U, C = w->C, d = w->d;
    w->base = drec_malloc((size_t)U * d * sizeof(float));
    w->drift = drec_malloc((size_t)U * d * sizeof(float));
    w->jolt = drec_malloc((size_t)U * d * sizeof(float));
    w->profile = drec_malloc((size_t)U * d * sizeof(float));
    w->aff = drec_malloc((size_t)U * C * sizeof(float));
    w->age = drec_malloc((size_t)U);
    w->region = drec_malloc((size_t)U);
    w->device = drec_malloc((size_t)U);
    w->tod = drec_malloc((size_t)U);
    float *own = drec_malloc((size_t)d * sizeof *own);
    for (int32_t u = 0; u < U; u++) {
        float *a = w->aff + (size_t)u * C;
        double s = 0;
        for (int c = 0; c < C; c++) s += a[c] = (float)drec_rng_gamma(r, 0.3 * C * w->cat_w[c]);
        if (s <= 0) {
            a[drec_rng_below(r, (uint32_t)C)] = 1.0f;
            s = 1;
        }
        for (int c = 0; c < C; c++) a[c] = (float)(a[c] / s);
        for (int k = 0; k < d; k++) own[k] = 0.6f * (float)drec_rng_normal(r);
        float *b = w->base + (size_t)u * d, *j = w->jolt + (size_t)u * d;
        for (int k = 0; k < d; k++) {
            float t = own[k], ts = own[k];
            for (int c = 0; c < C; c++) {
                t += 1.5f * a[c] * w->centroid[c * d + k];
                ts += 1.5f * a[w->perm[c]] * w->centroid[c * d + k];
            }
            b[k] = t;
            j[k] = ts - t;
            w->drift[(size_t)u * d + k] = 0.5f * (float)drec_rng_normal(r);
            w->profile[(size_t)u * d + k] = t + 0.5f * (float)drec_rng_normal(r);
        }
        w->age[u] = (uint8_t)pick(r, age_p, N_AGES);
        w->region[u] = (uint8_t)drec_rng_below(r, DREC_ARRAY_LEN(regions));
        w->device[u] = (uint8_t)pick(r, device_p, DREC_WORLD_DEVICES);
        w->tod[u] = (uint8_t)pick(r, tod_p, DREC_WORLD_TODS);
    }
    free(own);
}

static void build_items(drec_world *w, drec_rng *r) {
    int I = w->I, C = w->C, d = w->d;
    w->v = drec_malloc((size_t)I * d * sizeof(float));
    w->cat = drec_malloc((size_t)I * sizeof *w->cat);
    w->price = drec_malloc((size_t)I * sizeof *w->price);
    w->lprice = drec_malloc((size_t)I * sizeof *w->lprice);
    w->popterm = drec_malloc((size_t)I * sizeof *w->popterm);
    /* Zipf popularity over a random ranking. */
    int32_t *rank = drec_malloc((size_t)I * sizeof *rank);
    for (int32_t i = 0; i < I; i++) rank[i] = i;
    drec_rng_shuffle_i32(r, rank, (size_t)I);
    float *pop = drec_malloc((size_t)I * sizeof *pop);
    double zs = 0;
    for (int32_t i = 0; i < I; i++) zs += pop[i] = powf((float)rank[i] + 1.0f, -0.8f);
    for (int32_t i = 0; i < I; i++) {
        int c = i < C ? i : pick(r, w->cat_w, C); /* every category gets an item */
        w->cat[i] = c;
        float *vi = w->v + (size_t)i * d;
        for (int k = 0; k < d; k++) vi[k] = 0.8f * w->centroid[c * d + k] + 0.6f * (float)drec_rng_normal(r);
        float lp = 0.5f * (float)drec_rng_normal(r) + 0.3f * vi[0];
        w->price[i] = roundf(vocab[c].median_price * expf(lp) * 100.0f) / 100.0f;
        if (w->price[i] < 0.5f) w->price[i] = 0.5f;
        w->lprice[i] = logf(w->price[i] / vocab[c].median_price);
        w->popterm[i] = 0.3f * logf((float)(I * pop[i] / zs));
    }
    /* Items by category, with an alias table over popularity. */
    w->cat_ptr = drec_calloc((size_t)C + 1, sizeof *w->cat_ptr);
    w->cat_items = drec_malloc((size_t)I * sizeof *w->cat_items);
    w->alias_p = drec_malloc((size_t)I * sizeof *w->alias_p);
    w->alias_j = drec_malloc((size_t)I * sizeof *w->alias_j);
    for (int32_t i = 0; i < I; i++) w->cat_ptr[w->cat[i] + 1]++;
    for (int c = 0; c < C; c++) w->cat_ptr[c + 1] += w->cat_ptr[c];
    int32_t *fill = drec_malloc((size_t)C * sizeof *fill);
    memcpy(fill, w->cat_ptr, (size_t)C * sizeof *fill);
    for (int32_t i = 0; i < I; i++) w->cat_items[fill[w->cat[i]]++] = i;
    float *wt = drec_malloc((size_t)I * sizeof *wt);
    for (int c = 0; c < C; c++) {
        int32_t a = w->cat_ptr[c], n = w->cat_ptr[c + 1] - a;
        for (int32_t k = 0; k < n; k++) wt[k] = pop[w->cat_items[a + k]];
        alias_build(wt, n, w->alias_p + a, w->alias_j + a);
    }
    free(wt);
    free(fill);
    free(pop);
    free(rank);

    /* Neighbours: the most similar of a popularity-drawn sample from the
     * item's category and its linked category. */
    w->nbr = drec_malloc((size_t)I * K_NBR * sizeof *w->nbr);
    w->n_nbr = drec_calloc((size_t)I, 1);
    int32_t cand[40];
    float cs[40];
    for (int32_t i = 0; i < I; i++) {
        int n = 0;
        for (int t = 0; t < 40; t++) {
            int c = t < 30 ? w->cat[i] : w->link[w->cat[i]];
            int32_t j = draw_in_cat(w, r, c);
            if (j == i) continue;
            int dup = 0;
            for (int q = 0; q < n && !dup; q++) dup = cand[q] == j;
            if (dup) continue;
            cand[n] = j;
            cs[n] = dotf(w->v + (size_t)i * d, w->v + (size_t)j * d, d);
            n++;
        }
        /* Selection of the K best; ties keep the earlier draw. */
        int m = DREC_MIN(n, K_NBR);
        for (int a = 0; a < m; a++) {
            int b = a;
            for (int q = a + 1; q < n; q++)
                if (cs[q] > cs[b]) b = q;
            int32_t tj = cand[a];
            float tf = cs[a];
            cand[a] = cand[b];
            cs[a] = cs[b];
            cand[b] = tj;
            cs[b] = tf;
            w->nbr[(size_t)i * K_NBR + a] = cand[a];
        }
        w->n_nbr[i] = (uint8_t)m;
    }
    w->item_emb = drec_malloc((size_t)I * d * sizeof(float));
    for (size_t k = 0; k < (size_t)I * d; k++) w->item_emb[k] = w->v[k] + 0.3f * (float)drec_rng_normal(r);
}

/* Titles "<Style> <Noun>" (numbered when taken) and descriptions. */
static void build_text(drec_world *w, drec_dataset *ds, drec_rng *r) {
    int I = w->I, d = w->d;
    drec_side *sd = ds->side;
    sd->item_title = drec_malloc((size_t)I * sizeof(char *));
    sd->item_text = drec_malloc((size_t)I * sizeof(char *));
    sd->item_category = drec_malloc((size_t)I * sizeof(int32_t));
    sd->item_price = drec_malloc((size_t)I * sizeof(float));
    for (int c = 0; c < w->C; c++) drec_strmap_intern(&sd->categories, vocab[c].name, strlen(vocab[c].name));
    drec_strmap seen;
    drec_strmap_init(&seen);
    int32_t *uses = NULL;
    int32_t uses_cap = 0;
    char buf[512], low[3][24];
    for (int32_t i = 0; i < I; i++) {
        int c = w->cat[i];
        const float *vi = w->v + (size_t)i * d, *ce = w->centroid + (size_t)c * d;
        /* The title's style: the factor where the item departs most from its
         * category; the text's: its two strongest factors overall. */
        int ks = 0, k1 = 0, k2 = d > 1 ? 1 : 0;
        for (int k = 0; k < d; k++)
            if (fabsf(vi[k] - 0.8f * ce[k]) > fabsf(vi[ks] - 0.8f * ce[ks])) ks = k;
        for (int k = 0; k < d; k++) {
            if (fabsf(vi[k]) > fabsf(vi[k1])) {
                k2 = k1;
                k1 = k;
            } else if (k != k1 && (k2 == k1 || fabsf(vi[k]) > fabsf(vi[k2]))) {
                k2 = k;
            }
        }
        const char *adj = styles[ks % N_STYLES][vi[ks] - 0.8f * ce[ks] < 0];
        const char *noun = vocab[c].nouns[drec_rng_below(r, 8)];
        int len = snprintf(buf, sizeof buf, "%s %s", adj, noun);
        int32_t known = seen.n, id = drec_strmap_intern(&seen, buf, (size_t)len);
        if (id >= uses_cap) {
            uses = drec_realloc(uses, (size_t)(uses_cap = 2 * (id + 16)) * sizeof *uses);
        }
        if (id >= known)
            uses[id] = 1;
        else
            snprintf(buf + len, sizeof buf - (size_t)len, " %d", ++uses[id]);
        sd->item_title[i] = drec_strdup(buf);

        const char *st[3] = {styles[k1 % N_STYLES][vi[k1] < 0], styles[k2 % N_STYLES][vi[k2] < 0], adj};
        for (int q = 0; q < 3; q++) {
            snprintf(low[q], sizeof low[q], "%s", st[q]);
            for (char *p = low[q]; *p; p++) *p = (char)tolower((unsigned char)*p);
        }
        int wd[5];
        for (int q = 0; q < 5; q++) {
            int ok;
            do {
                wd[q] = (int)drec_rng_below(r, 10);
                ok = 1;
                for (int z = 0; z < q; z++) ok &= wd[z] != wd[q];
            } while (!ok);
        }
        char nlow[24];
        snprintf(nlow, sizeof nlow, "%s", noun);
        for (char *p = nlow; *p; p++) *p = (char)tolower((unsigned char)*p);
        float pr = w->price[i];
        const char *tier = pr < 15 ? "budget" : pr < 40 ? "affordable" : pr < 120 ? "quality" : "luxury";
        const cat_vocab *cv = &vocab[c];
        snprintf(buf, sizeof buf, "A %s %s of %s and %s, %s %s %s with %s %s. %s %s %s, %s.", low[2], nlow,
                 cv->words[wd[0]], cv->words[wd[1]], low[0], cv->words[wd[2]], cv->words[wd[3]], low[1],
                 cv->words[wd[4]], fillers[drec_rng_below(r, 10)], cv->name, fillers[drec_rng_below(r, 10)], tier);
        buf[0] = 'A';
        sd->item_text[i] = drec_strdup(buf);
        sd->item_category[i] = c;
        sd->item_price[i] = pr;
        drec_attrs_add(&sd->item_attrs, i, "category", cv->name, 1.0f);
        drec_attrs_add(&sd->item_attrs, i, "price",
                       pr < 15 ? "low" : pr < 40 ? "mid" : pr < 120 ? "high" : "premium", 1.0f);
    }
    drec_attrs_finish(&sd->item_attrs, I);
    free(uses);
    drec_strmap_free(&seen);
}

/* Calibrates the click offset B and the utility scale of ratings on a
 * fixed sample of random (user, item, context). */
static void calibrate(drec_world *w) {
    enum { S = 4000 };
    drec_rng r;
    drec_rng_seed2(&r, w->seed, 0xca11b);
    float *ut = drec_malloc(S * sizeof *ut);
    float taste[256], ct[MAX_CATS];
    double s = 0, ss = 0;
    for (int k = 0; k < S; k++) {
        drec_world_ctx c;
        drec_world_draw(w, (int64_t)drec_rng_below(&r, 1u << 30), &c);
        c.step = 0;
        sim_taste(w, &c, taste, ct);
        int32_t i = (int32_t)drec_rng_below(&r, (uint32_t)w->I);
        ut[k] = util_of(w, taste, ct, age_sens[w->age[c.user]], i);
        s += ut[k];
        ss += (double)ut[k] * ut[k];
    }
    w->util_mu = s / S;
    w->util_sd = sqrt(DREC_MAX(ss / S - w->util_mu * w->util_mu, 1e-6));
    double lo = -30, hi = 30;
    for (int it = 0; it < 60; it++) {
        double b = 0.5 * (lo + hi), m = 0;
        for (int k = 0; k < S; k++) m += 1.0 / (1.0 + exp(-(CLICK_SCALE * ut[k] + b)));
        if (m / S < CLICK_MEAN)
            lo = b;
        else
            hi = b;
    }
    w->click_b = 0.5 * (lo + hi);
    free(ut);
}

/* The offline history: sessions of events per user, in time order. */
static void build_history(drec_world *w, drec_rng *r) {
    int U = w->U, I = w->I, C = w->C, d = w->d;
    drec_dataset *ds = w->ds;
    int32_t *stamp = drec_calloc((size_t)I, sizeof *stamp);
    float *ctx = NULL;
    size_t ctx_cap = 0;
    int32_t *sess = NULL;
    size_t sess_cap = 0;
    int32_t n_sess = 0;
    float taste[256], ct[MAX_CATS], cw[MAX_CATS], cu[K_NBR > M_EXPOSE ? K_NBR : M_EXPOSE];
    int32_t cand[K_NBR > M_EXPOSE ? K_NBR : M_EXPOSE];
    const double sigma = 0.7;
    for (int32_t u = 0; u < U; u++) {
        double z = drec_rng_normal(r);
        long n_u = lround(w->events * exp(sigma * z - 0.5 * sigma * sigma));
        long lo = DREC_MIN(3, (long)w->events);
        n_u = DREC_MAX(n_u, lo);
        n_u = DREC_MIN(n_u, (long)I);
        n_u = DREC_MAX(n_u, 1);
        float sens = age_sens[w->age[u]];
        int64_t now = EPOCH + (int64_t)drec_rng_below(r, 60) * 86400;
        long k = 0;
        int misses = 0;
        while (k < n_u && misses < 4 * n_u + 20) {
            /* A session: context, then a run of events. */
            int tod = drec_rng_float(r) < 0.6f ? w->tod[u] : (int)drec_rng_below(r, DREC_WORLD_TODS);
            int dev = drec_rng_float(r) < 0.8f ? w->device[u] : (int)drec_rng_below(r, DREC_WORLD_DEVICES);
            int64_t day = now / 86400 + 1;
            while (drec_rng_float(r) < 0.6f) day++;
            int64_t start = day * 86400 + (int64_t)(tod * 6 + (int)drec_rng_below(r, 6)) * 3600 + drec_rng_below(r, 3600);
            /* Sessions stay separable by their gap alone (> 2 h; events in
             * one session are at most 330 s apart). */
            if (start < now + 7200) start += 86400;
            now = start;
            long len = 1;
            while (drec_rng_float(r) < 0.8f && len < 30) len++;
            cat_terms(w, u, tod, dev, false, ct);
            double cs = 0;
            for (int c = 0; c < C; c++) cs += cw[c] = w->aff[(size_t)u * C + c] * expf(w->tod_cat[tod][c] + w->dev_cat[dev][c]);
            for (int c = 0; c < C; c++) cw[c] = (float)(cw[c] / cs);
            int32_t prev = -1;
            bool opened = false;
            for (long e = 0; e < len && k < n_u; e++) {
                double tau = (double)k / (double)n_u;
                const float *b = w->base + (size_t)u * d, *dr = w->drift + (size_t)u * d;
                for (int q = 0; q < d; q++) taste[q] = b[q] + (float)tau * dr[q];
                int n = 0;
                if (prev >= 0 && drec_rng_float(r) < P_FOLLOW) {
                    for (int q = 0; q < w->n_nbr[prev]; q++) {
                        int32_t j = w->nbr[(size_t)prev * K_NBR + q];
                        if (stamp[j] != u + 1) cand[n++] = j;
                    }
                }
                if (n == 0) {
                    int c = drec_rng_float(r) < P_TREND ? pick(r, w->cat_w, C) : pick(r, cw, C);
                    for (int q = 0; q < M_EXPOSE; q++) {
                        int32_t j = draw_in_cat(w, r, c);
                        if (stamp[j] != u + 1) cand[n++] = j;
                    }
                }
                if (n == 0) {
                    misses++;
                    prev = -1;
                    continue;
                }
                /* Softmax choice on utility among the candidates. */
                float mx = -1e30f;
                for (int q = 0; q < n; q++) {
                    cu[q] = util_of(w, taste, ct, sens, cand[q]);
                    mx = DREC_MAX(mx, cu[q]);
                }
                double tot = 0;
                for (int q = 0; q < n; q++) tot += cu[q] = expf((cu[q] - mx) / (float)CHOICE_TEMP);
                double x = drec_rng_double(r) * tot;
                int pickq = n - 1;
                for (int q = 0; q < n - 1; q++) {
                    x -= cu[q];
                    if (x < 0) {
                        pickq = q;
                        break;
                    }
                }
                int32_t item = cand[pickq];
                float ut = util_of(w, taste, ct, sens, item);
                float rating = 1.0f;
                if (!w->implicit) {
                    double zr = (ut - w->util_mu) / w->util_sd;
                    double rv = 2.4 + 0.9 * zr + 0.7 * drec_rng_normal(r);
                    rating = (float)DREC_MIN(5.0, DREC_MAX(1.0, round(rv)));
                }
                stamp[item] = u + 1;
                if (!opened) {
                    opened = true;
                    n_sess++;
                } else {
                    now += 30 + drec_rng_below(r, 300);
                }
                size_t row = drec_ds_push(ds, u, item, rating, now);
                DREC_GROW(ctx, ctx_cap, (row + 1) * DREC_WORLD_EVENT_CTX);
                DREC_GROW(sess, sess_cap, row + 1);
                float *cr = ctx + row * DREC_WORLD_EVENT_CTX;
                memset(cr, 0, DREC_WORLD_EVENT_CTX * sizeof *cr);
                cr[tod] = 1.0f;
                cr[DREC_WORLD_TODS + dev] = 1.0f;
                sess[row] = n_sess - 1;
                prev = item;
                k++;
            }
        }
    }
    free(stamp);
    ds->ctx = ctx;
    ds->side->ctx_dim = DREC_WORLD_EVENT_CTX;
    w->session = sess ? sess : drec_calloc(1, sizeof *sess);
}

drec_status drec_world_new(const char *args, drec_world **out) {
    *out = NULL;
    spec sp;
    drec_status st = parse_spec(args, &sp);
    if (st) return st;
    drec_world *w = drec_calloc(1, sizeof *w);
    w->seed = (uint64_t)sp.seed;
    w->U = (int32_t)sp.users;
    w->I = (int32_t)sp.items;
    w->C = (int32_t)DREC_MIN(sp.categories, sp.items);
    w->d = (int32_t)sp.dim;
    w->events = (double)sp.events;
    w->shock = sp.shock;
    w->implicit = sp.implicit != 0;
    int C = w->C, d = w->d;

    drec_rng r;
    drec_rng_seed2(&r, w->seed, 0x5e7);
    /* Categories: crowd shares, centroids, links, context effects, the
     * shock's permutation (a derangement when C > 1: every taste moves). */
    double cs = 0;
    for (int c = 0; c < C; c++) cs += w->cat_w[c] = (float)drec_rng_gamma(&r, 3.0);
    for (int c = 0; c < C; c++) w->cat_w[c] = (float)(w->cat_w[c] / cs);
    w->centroid = drec_malloc((size_t)C * d * sizeof *w->centroid);
    for (int k = 0; k < C * d; k++) w->centroid[k] = (float)drec_rng_normal(&r);
    for (int c = 0; c < C; c++) w->link[c] = C > 1 ? (c + 1 + (int)drec_rng_below(&r, (uint32_t)(C - 1))) % C : c;
    for (int t = 0; t < DREC_WORLD_TODS; t++)
        for (int c = 0; c < C; c++) w->tod_cat[t][c] = 0.35f * (float)drec_rng_normal(&r);
    for (int t = 0; t < DREC_WORLD_DEVICES; t++)
        for (int c = 0; c < C; c++) w->dev_cat[t][c] = 0.25f * (float)drec_rng_normal(&r);
    int32_t sh = C > 1 ? 1 + (int32_t)drec_rng_below(&r, (uint32_t)(C - 1)) : 0;
    for (int c = 0; c < C; c++) w->perm[c] = (c + sh) % C;

    drec_rng ru, ri, rt, rh;
    drec_rng_seed2(&ru, w->seed, 0x05e5);
    drec_rng_seed2(&ri, w->seed, 0x17e3);
    drec_rng_seed2(&rt, w->seed, 0x7e47);
    drec_rng_seed2(&rh, w->seed, 0x4157);
    build_users(w, &ru);
    build_items(w, &ri);
    calibrate(w);

    drec_dataset *ds = drec_ds_new(DREC_DS_INTERACTIONS, "synthetic");
    w->ds = ds;
    char name[32];
    for (int32_t u = 0; u < w->U; u++) drec_ds_user(ds, name, (size_t)snprintf(name, sizeof name, "u%d", u));
    for (int32_t i = 0; i < w->I; i++) drec_ds_item(ds, name, (size_t)snprintf(name, sizeof name, "i%d", i));
    for (int32_t u = 0; u < w->U; u++) {
        drec_attrs_add(&ds->side->user_attrs, u, "age", ages[w->age[u]], 1.0f);
        drec_attrs_add(&ds->side->user_attrs, u, "region", regions[w->region[u]], 1.0f);
        drec_attrs_add(&ds->side->user_attrs, u, "device", devices[w->device[u]], 1.0f);
    }
    drec_attrs_finish(&ds->side->user_attrs, w->U);
    build_text(w, ds, &rt);
    ds->has_rating = !w->implicit;
    ds->has_time = true;
    build_history(w, &rh);
    drec_ds_finish(ds);
    *out = w;
    return DREC_OK;
}

void drec_world_free(drec_world *w) {
    if (!w) return;
    free(w->base);
    free(w->drift);
    free(w->jolt);
    free(w->profile);
    free(w->item_emb);
    free(w->aff);
    free(w->age);
    free(w->region);
    free(w->device);
    free(w->tod);
    free(w->v);
    free(w->cat);
    free(w->price);
    free(w->lprice);
    free(w->popterm);
    free(w->centroid);
    free(w->cat_ptr);
    free(w->cat_items);
    free(w->alias_p);
    free(w->alias_j);
    free(w->nbr);
    free(w->n_nbr);
    free(w->session);
    drec_dataset_free(w->ds);
    free(w);
}

/* ---- accessors ------------------------------------------------------------- */

const drec_dataset *drec_world_dataset(const drec_world *w) { return w->ds; }

drec_dataset *drec_world_take_dataset(drec_world *w) {
    drec_dataset *ds = w->ds;
    w->ds = NULL;
    return ds;
}

const int32_t *drec_world_sessions(const drec_world *w) { return w->session; }
int32_t drec_world_n_users(const drec_world *w) { return w->U; }
int32_t drec_world_n_items(const drec_world *w) { return w->I; }
int drec_world_ctx_dim(const drec_world *w) { return 1 + DREC_WORLD_TODS + DREC_WORLD_DEVICES + N_AGES + w->d; }
int64_t drec_world_shock_step(const drec_world *w) { return w->shock; }

/* ---- the simulator ---------------------------------------------------------- */

void drec_world_draw(const drec_world *w, int64_t step, drec_world_ctx *out) {
    drec_rng r;
    drec_rng_seed2(&r, w->seed ^ 0xd1a3u, (uint64_t)step);
    int32_t u = (int32_t)drec_rng_below(&r, (uint32_t)w->U);
    out->user = u;
    out->tod = drec_rng_float(&r) < 0.6f ? w->tod[u] : (int32_t)drec_rng_below(&r, DREC_WORLD_TODS);
    out->device = drec_rng_float(&r) < 0.8f ? w->device[u] : (int32_t)drec_rng_below(&r, DREC_WORLD_DEVICES);
    out->step = step;
}

void drec_world_features(const drec_world *w, const drec_world_ctx *c, float *out) {
    int n = drec_world_ctx_dim(w);
    memset(out, 0, (size_t)n * sizeof *out);
    out[0] = 1.0f;
    out[1 + c->tod] = 1.0f;
    out[1 + DREC_WORLD_TODS + c->device] = 1.0f;
    out[1 + DREC_WORLD_TODS + DREC_WORLD_DEVICES + w->age[c->user]] = 1.0f;
    const float *p = w->profile + (size_t)c->user * w->d;
    float *e = out + 1 + DREC_WORLD_TODS + DREC_WORLD_DEVICES + N_AGES;
    for (int k = 0; k < w->d; k++) e[k] = 0.5f * p[k];
}

int drec_world_item_dim(const drec_world *w) { return w->C + 1 + w->d; }

void drec_world_item_features(const drec_world *w, int32_t item, float *out) {
    memset(out, 0, (size_t)drec_world_item_dim(w) * sizeof *out);
    out[w->cat[item]] = 1.0f;
    out[w->C] = w->lprice[item];
    memcpy(out + w->C + 1, w->item_emb + (size_t)item * w->d, (size_t)w->d * sizeof *out);
}

double drec_world_utility(const drec_world *w, const drec_world_ctx *c, int32_t item) {
    float taste[256], ct[MAX_CATS];
    sim_taste(w, c, taste, ct);
    return util_of(w, taste, ct, age_sens[w->age[c->user]], item);
}

static double logit_of(const drec_world *w, double util) { return CLICK_SCALE * util + w->click_b; }

double drec_world_expected(const drec_world *w, const drec_world_ctx *c, int32_t item) {
    return 1.0 / (1.0 + exp(-logit_of(w, drec_world_utility(w, c, item))));
}

/* The step's coin: uniform in [0, 1) from (seed, step, user). */
static double coin(const drec_world *w, const drec_world_ctx *c) {
    int64_t key[2] = {c->step, c->user};
    uint64_t h = drec_hash64(key, sizeof key, w->seed ^ 0xc011u);
    return (double)(h >> 11) * 0x1.0p-53;
}

int drec_world_click(const drec_world *w, const drec_world_ctx *c, int32_t item) {
    return coin(w, c) < drec_world_expected(w, c, item);
}

double drec_world_best(const drec_world *w, const drec_world_ctx *c, const int32_t *arms, int n, int *best) {
    float taste[256], ct[MAX_CATS];
    sim_taste(w, c, taste, ct);
    float sens = age_sens[w->age[c->user]];
    int b = 0;
    float bu = -1e30f;
    for (int k = 0; k < n; k++) {
        float u = util_of(w, taste, ct, sens, arms[k]);
        if (u > bu) {
            bu = u;
            b = k;
        }
    }
    if (best) *best = b;
    return 1.0 / (1.0 + exp(-logit_of(w, bu)));
}

/* e_k of world.h for each slot into e; returns 1 + sum e. */
static double slate_weights(const drec_world *w, const drec_world_ctx *c, const int32_t *items, int n, double *e) {
    float taste[256], ct[MAX_CATS];
    sim_taste(w, c, taste, ct);
    float sens = age_sens[w->age[c->user]];
    double z = 1.0, pos = 1.0;
    for (int k = 0; k < n; k++) {
        e[k] = exp(logit_of(w, util_of(w, taste, ct, sens, items[k]))) * pos;
        z += e[k];
        pos *= SLATE_DECAY;
    }
    return z;
}

double drec_world_slate_expected(const drec_world *w, const drec_world_ctx *c, const int32_t *items, int n) {
    double stack[64], *e = n <= 64 ? stack : drec_malloc((size_t)n * sizeof *e);
    double z = slate_weights(w, c, items, n, e);
    if (e != stack) free(e);
    return 1.0 - 1.0 / z;
}

int drec_world_slate_click(const drec_world *w, const drec_world_ctx *c, const int32_t *items, int n) {
    double stack[64], *e = n <= 64 ? stack : drec_malloc((size_t)n * sizeof *e);
    double z = slate_weights(w, c, items, n, e);
    /* Slot k owns [sum_{j<k} e_j, sum_{j<=k} e_j) / z; "no click" the rest. */
    double x = coin(w, c) * z, acc = 0;
    int hit = -1;
    for (int k = 0; k < n; k++) {
        acc += e[k];
        if (x < acc) {
            hit = k;
            break;
        }
    }
    if (e != stack) free(e);
    return hit;
}

/*
 * registry.c — the table of models by name.  The CLI, the server and the
 * tests iterate it; adding a model is one line here.
 */
#include "model.h"

extern const drec_model_vt drec_pop_vt;
extern const drec_model_vt drec_itemknn_vt, drec_userknn_vt, drec_timeknn_vt, drec_mf_vt, drec_svdpp_vt;
extern const drec_model_vt drec_als_vt, drec_bpr_vt, drec_fm_vt, drec_tfidf_vt, drec_hybrid_vt;
extern const drec_model_vt drec_gmf_vt, drec_mlp_vt, drec_neumf_vt;
extern const drec_model_vt drec_lr_vt, drec_widedeep_vt, drec_deepfm_vt, drec_xdeepfm_vt, drec_autoint_vt;

const drec_model_vt *const drec_model_table[] = {
    &drec_pop_vt,
    &drec_itemknn_vt, &drec_userknn_vt, &drec_timeknn_vt, &drec_mf_vt, &drec_svdpp_vt,
    &drec_als_vt, &drec_bpr_vt, &drec_fm_vt, &drec_tfidf_vt, &drec_hybrid_vt,
    &drec_gmf_vt, &drec_mlp_vt, &drec_neumf_vt,
    &drec_lr_vt, &drec_widedeep_vt, &drec_deepfm_vt, &drec_xdeepfm_vt, &drec_autoint_vt,
    NULL,
};

const drec_model_vt *drec_model_find(const char *name) {
    for (int k = 0; drec_model_table[k]; k++)
        if (strcmp(drec_model_table[k]->name, name) == 0) return drec_model_table[k];
    return NULL;
}

const char *const *drec_model_names(void) {
    static const char *names[64];
    if (!names[0])
        for (int k = 0; drec_model_table[k] && k < 63; k++) names[k] = drec_model_table[k]->name;
    return names;
}

/* claims.c - the published table; see claims.h and REFERENCE section 1. */
#include "claims.h"

#include <string.h>

const tb_claim tb_claims[] = {
    {"125M", "125M", 0.125, 434.40, 593.43, 1.37, 164.04, 389.08, 2.37},
    {"350M", "350M", 0.35, 185.56, 281.51, 1.52, 56.67, 172.95, 3.05},
    {"700M", "700M", 0.7, 114.47, 194.38, 1.70, 30.73, 119.08, 3.88},
    {"1B", "1B", 1.0, 85.60, 169.45, 1.98, 22.31, 86.50, 3.88},
    {"1.5B", "1.5B", 1.5, 60.95, 119.24, 1.96, 15.02, 67.12, 4.47},
    {"2.5B", "2.7B", 2.5, 39.73, 96.21, 2.42, 11.07, 46.33, 4.19},
    {"3.8B", "3.8B", 3.8, 28.31, 84.77, 2.99, 5.85, 30.51, 5.22},
    {"7B", "7B", 7.0, 15.61, 52.36, 3.35, 3.30, 18.75, 5.68},
    {"13B", "13B", 13.0, 8.79, 33.78, 3.84, 1.78, 10.99, 6.17},
    {"30B", "30B", 30.0, 3.78, 17.07, 4.52, 0, 5.10, 0},
    {"70B", "70B", 70.0, 1.71, 8.67, 5.07, 0, 2.44, 0},
    {"100B", "100B", 100.0, 0, 6.58, 0, 0, 1.70, 0},
};
const int tb_claim_count = sizeof tb_claims / sizeof tb_claims[0];

const tb_claim *tb_claim_find(const char *preset)
{
    for (int i = 0; i < tb_claim_count; i++)
        if (!strcmp(tb_claims[i].preset, preset))
            return &tb_claims[i];
    return NULL;
}

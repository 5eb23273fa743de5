/* domain/files_ingest.c - the upload pipeline (domain/files_ingest.h). */
#include "domain/files_ingest.h"

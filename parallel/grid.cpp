// Process grid: the layout functions are inline in grid.h.
#include "parallel/grid.h"

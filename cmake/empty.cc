// libtidal.so is assembled from the folder libraries (whole archives); this file only gives the
// shared library target a source of its own.

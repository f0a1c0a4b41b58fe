#include "srtfwd/app/run.h"

int main(int argc, char** argv) { return srtfwd::app::run(argc, argv); }

#include <cstdio>
int main() { std::puts("elrscope: under construction"); return 0; }

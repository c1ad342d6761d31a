# Per scale-invariant layer of a plain-SGD run (layers.csv): step, index among the scale-invariant
# layers, ELR (definition B), 1/ELR^2 - 1/ELR_0^2, the same with the base gradient held at its
# step-0 value c_0 = |g_0||W_0| (E_c0 = lr c_0 / |W|^2, the model's E), and the step-1 quantities.
# mode=steps: "step si 1/ELR^2-1/ELR0^2 1/Ec0^2-1/E0^2 1/ELR^2 1/ELR0^2+2*step" in blocks per layer
#   (blank line between).
# mode=slopes: per layer the least-squares slope over the logged steps of 1/ELR^2 and of 1/E_c0^2.
# mode=step1: per layer "si ELR_0 ELR_1 model_ELR_1=E0/(1+E0^2) 1/E0 w2_ratio 1+E0^2".
# Usage: awk -F, -v mode=steps -f layer-dynamics.awk RUN/layers.csv
NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
$(c["scale_invariant"]) == 1 && $(c["elr"]) != "" {
  name = $(c["name"]); s = $(c["step"]) + 0
  if (!(name in si)) { si[name] = ns + 0; nm[ns + 0] = name; ns++ }
  j = si[name]; elr[j, s] = $(c["elr"]); w2[j, s] = $(c["w2"]); g2[j, s] = $(c["g2"]); lr[j, s] = $(c["lr"])
  if (s > maxs) maxs = s
}
END {
  if (mode == "steps") print "# step si inv_elr2_minus_start inv_Ec0_2_minus_start inv_elr2 model_inv_elr2"
  if (mode == "slopes") print "# si name ELR_0 slope_inv_elr2 slope_inv_Ec0_2"
  if (mode == "step1") print "# si ELR_0 ELR_1 model_ELR_1 inv_ELR_0 w2_ratio model_w2_ratio"
  for (j = 0; j < ns; j++) {
    e0 = elr[j, 0]; c0 = sqrt(g2[j, 0] * w2[j, 0]); n = 0; sx = sy = sz = sxx = sxy = sxz = 0
    for (s = 0; s <= maxs; s++) {
      if (!((j, s) in elr) || elr[j, s] <= 0) continue
      y = 1 / elr[j, s]^2 - 1 / e0^2; ec = lr[j, s] * c0 / w2[j, s]; z = 1 / ec^2 - 1 / e0^2
      if (mode == "steps") print s, j, y, z, 1 / elr[j, s]^2, 1 / e0^2 + 2 * s
      n++; sx += s; sy += y; sz += z; sxx += s * s; sxy += s * y; sxz += s * z
    }
    if (mode == "steps") print ""
    d = n * sxx - sx * sx
    if (mode == "slopes" && d > 0) printf "%d %s %.6g %.6g %.6g\n", j, nm[j], e0, (n * sxy - sx * sy) / d, (n * sxz - sx * sz) / d
    if (mode == "step1" && ((j, 1) in elr))
      printf "%d %.6g %.6g %.6g %.6g %.6g %.6g\n", j, e0, elr[j, 1], e0 / (1 + e0^2), 1 / e0, w2[j, 1] / w2[j, 0], 1 + e0^2
  }
}

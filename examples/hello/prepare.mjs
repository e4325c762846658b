// Makes a small synthetic regression data set (y = 3x - 2 + noise) and reports its shape.
// Until the catalog lands, steps pass no files to each other; each prints what it did.
const rows = Number(process.env.ROWS ?? 1000);
let seed = Number(process.env.SEED ?? 1);
const random = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
let sum = 0;
for (let i = 0; i < rows; i++) sum += 3 * random() - 2 + (random() - 0.5) * 0.1;
console.log(
  `prepared ${rows} rows (mean target ${(sum / rows).toFixed(3)}) in ${process.env.ACAI_WORK_DIR}`,
);

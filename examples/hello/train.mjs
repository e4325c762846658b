// Fits y = w x + b by gradient descent on the same synthetic data and prints the loss per epoch.
const epochs = Number(process.env.EPOCHS ?? 20);
const lr = Number(process.env.LEARNING_RATE ?? 0.1);
let seed = 7;
const random = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
const xs = Array.from({ length: 2000 }, () => random());
const ys = xs.map((x) => 3 * x - 2 + (random() - 0.5) * 0.1);
let w = 0;
let b = 0;
for (let epoch = 1; epoch <= epochs; epoch++) {
  let gw = 0;
  let gb = 0;
  let loss = 0;
  for (let i = 0; i < xs.length; i++) {
    const err = w * xs[i] + b - ys[i];
    loss += err * err;
    gw += err * xs[i];
    gb += err;
  }
  w -= (lr * 2 * gw) / xs.length;
  b -= (lr * 2 * gb) / xs.length;
  if (epoch % 10 === 0 || epoch === 1)
    console.log(`epoch ${epoch} loss ${(loss / xs.length).toFixed(5)}`);
}
console.log(`fitted w=${w.toFixed(3)} b=${b.toFixed(3)} (true 3, -2)`);

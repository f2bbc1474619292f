// SPDX-License-Identifier: MIT
// What the shop sells. The library has no product listing (a shop owns its
// catalog pages); it holds prices and stock, so every page reads them from it.
'use strict';

const VENDORS = [
  { id: 'ilam-tea', name: 'Ilam Tea House' },
  { id: 'bhaktapur-crafts', name: 'Bhaktapur Crafts' },
  { id: 'patan-metal', name: 'Patan Metalworks' },
];

const PRODUCTS = [
  { id: 'tea-250g', vendorId: 'ilam-tea', name: 'Ilam tea, 250 g', priceMinor: 45000, onHand: 500 },
  { id: 'lokta-journal', vendorId: 'bhaktapur-crafts', name: 'Lokta paper journal', priceMinor: 65000, onHand: 40 },
  { id: 'pashmina-shawl', vendorId: 'bhaktapur-crafts', name: 'Pashmina shawl', priceMinor: 850000, onHand: 10 },
  { id: 'singing-bowl', vendorId: 'patan-metal', name: 'Hand-hammered singing bowl', priceMinor: 420000, onHand: 2 },
];

const SKUS = new Set(PRODUCTS.map((p) => p.id));

/** Writes the vendors, and the products a persistent store does not have yet (their stock is live). */
async function seed(p) {
  for (const v of VENDORS) await p.vendorPut(v.id, v.name);
  for (const product of PRODUCTS) {
    try {
      await p.productGet(product.id);
    } catch (err) {
      if (err.code !== 'KBP_ENOTFOUND') throw err;
      await p.productPut(product);
    }
  }
}

/** The products with their live price and availability. */
function list(p) {
  return Promise.all(PRODUCTS.map((product) => p.productGet(product.id)));
}

/** A product's name for a page; an order may outlive its product. */
async function name(p, sku) {
  try {
    return (await p.productGet(sku)).name;
  } catch (err) {
    if (err.code === 'KBP_ENOTFOUND') return sku;
    throw err;
  }
}

function has(sku) {
  return SKUS.has(sku);
}

module.exports = { seed, list, name, has };

// SPDX-License-Identifier: MIT
'use strict';

const { html, money } = require('../web/html');
const { page } = require('./layout');

const MAX_QTY = 20;

function catalog(products, csrf) {
  return page({
    title: 'Catalog',
    body: html`<ul class="products">
${products.map((p) => html`<li class="product" data-sku="${p.id}">
<h2>${p.name}</h2>
<p class="price">${money(p.price_minor, p.currency)}</p>
<p class="stock" data-available="${p.available}">${p.available > 0 ? `${p.available} in stock` : 'Sold out'}</p>
<form method="post" action="/cart/add">
<input type="hidden" name="csrf" value="${csrf}">
<input type="hidden" name="sku" value="${p.id}">
<label>Quantity <input type="number" name="qty" value="1" min="1" max="${MAX_QTY}" required></label>
<button type="submit">Add to cart</button>
</form>
</li>`)}
</ul>`,
  });
}

/** lines: [{ product, qty }] */
function cart(lines, csrf, checkoutKey) {
  if (lines.length === 0) {
    return page({ title: 'Your cart', body: html`<p class="empty">Your cart is empty. <a href="/">See the catalog</a>.</p>` });
  }
  const total = lines.reduce((sum, l) => sum + l.qty * l.product.price_minor, 0);
  return page({
    title: 'Your cart',
    body: html`<table class="cart">
<thead><tr><th>Product</th><th>Price</th><th>Quantity</th><th>Subtotal</th></tr></thead>
<tbody>
${lines.map((l) => html`<tr data-sku="${l.product.id}">
<td>${l.product.name}</td>
<td>${money(l.product.price_minor, l.product.currency)}</td>
<td><form method="post" action="/cart/update" class="inline">
<input type="hidden" name="csrf" value="${csrf}">
<input type="hidden" name="sku" value="${l.product.id}">
<input type="number" name="qty" value="${l.qty}" min="0" max="${MAX_QTY}" required aria-label="Quantity of ${l.product.name}">
<button type="submit">Update</button>
</form></td>
<td>${money(l.qty * l.product.price_minor, l.product.currency)}</td>
</tr>`)}
</tbody>
<tfoot><tr><th colspan="3">Total</th><td class="total">${money(total)}</td></tr></tfoot>
</table>
<form method="post" action="/checkout">
<input type="hidden" name="csrf" value="${csrf}">
<input type="hidden" name="key" value="${checkoutKey}">
<button type="submit" class="primary">Check out and pay</button>
</form>`,
  });
}

/** short: [{ product, qty }] the lines the stock cannot cover. */
function outOfStock(short) {
  return page({
    title: 'Not enough stock',
    body: html`<p class="error">We cannot reserve everything in your cart:</p>
<ul class="short">
${short.map((l) => html`<li data-sku="${l.product.id}">${l.product.name}: you asked for ${l.qty}, ${l.product.available > 0 ? `only ${l.product.available} available` : 'sold out'}.</li>`)}
</ul>
<p>Nothing was reserved and nothing was charged. <a href="/cart">Change your cart</a> and check out again.</p>`,
  });
}

module.exports = { catalog, cart, outOfStock, MAX_QTY };

// SPDX-License-Identifier: MIT
// HTML built with a tagged template that escapes every interpolated value:
// escaping is the default, and only markup built by `html` passes as is.
'use strict';

class Markup {
  constructor(text) {
    this.text = text;
  }

  toString() {
    return this.text;
  }
}

const ENTITIES = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

function escape(value) {
  return String(value).replace(/[&<>"']/g, (c) => ENTITIES[c]);
}

function render(value) {
  if (value === null || value === undefined || value === false) return '';
  if (value instanceof Markup) return value.text;
  if (Array.isArray(value)) return value.map(render).join('');
  return escape(value);
}

function html(strings, ...values) {
  let out = strings[0];
  values.forEach((v, i) => {
    out += render(v) + strings[i + 1];
  });
  return new Markup(out);
}

/** Minor units as "Rs 1,234.50", without floating point. */
function money(minor, currency = 'NPR') {
  const digits = String(minor).padStart(3, '0');
  const whole = digits.slice(0, -2).replace(/\B(?=(\d{3})+$)/g, ',');
  return `${currency === 'NPR' ? 'Rs' : currency} ${whole}.${digits.slice(-2)}`;
}

function time(ms) {
  return ms ? new Date(ms).toISOString().replace('T', ' ').slice(0, 19) + ' UTC' : '';
}

module.exports = { html, money, time };

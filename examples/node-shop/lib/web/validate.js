// SPDX-License-Identifier: MIT
// Input from the browser, checked before it reaches the library: a bad
// value is a 400 page that says which field, never an exception later.
'use strict';

const { badRequest } = require('./http');

// The library's identifier alphabet (letters, digits and ._:@-), bounded.
const ID = /^[A-Za-z0-9._:@-]{1,128}$/;

function field(params, name) {
  const values = params.getAll(name);
  if (values.length > 1) throw badRequest(`Send ${name} once.`);
  return values.length ? values[0] : undefined;
}

function required(params, name) {
  const value = field(params, name);
  if (value === undefined || value === '') throw badRequest(`${name} is missing.`);
  return value;
}

function id(params, name, pattern = ID) {
  const value = required(params, name);
  if (!pattern.test(value)) throw badRequest(`${name} is not a valid identifier.`);
  return value;
}

function optionalId(params, name) {
  const value = field(params, name);
  return value === undefined || value === '' ? null : id(params, name);
}

function int(params, name, min, max, fallback) {
  const value = field(params, name);
  if ((value === undefined || value === '') && fallback !== undefined) return fallback;
  if (value === undefined || !/^[0-9]{1,9}$/.test(value) || Number(value) < min || Number(value) > max) {
    throw badRequest(`${name} must be a whole number from ${min} to ${max}.`);
  }
  return Number(value);
}

function oneOf(params, name, allowed) {
  const value = required(params, name);
  if (!allowed.includes(value)) throw badRequest(`${name} must be one of ${allowed.join(', ')}.`);
  return value;
}

module.exports = { ID, field, id, optionalId, int, oneOf };

// SPDX-License-Identifier: MIT
'use strict';

const { html } = require('../web/html');

const HEADERS = {
  shop: html`<span class="brand">Node shop</span> <nav><a href="/">Catalog</a> <a href="/cart">Cart</a></nav>`,
  admin: html`<span class="brand">Node shop · admin</span> <nav><a href="/admin/jobs">Jobs</a> <a href="/admin/orders">Orders</a> <a href="/">Shop</a></nav>`,
  // The gateway's page is another party's site in real life: no shop navigation.
  sandbox: html`<span class="brand">SANDBOX payment gateway · test payments only</span>`,
};

/** The page shell; `section` picks the header: 'shop', 'admin' or 'sandbox'. */
function page({ title, body, section = 'shop', scripts = [] }) {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · Node shop</title>
<link rel="stylesheet" href="/static/style.css">
${scripts.map((s) => html`<script src="/static/${s}" defer></script>`)}
</head>
<body class="${section}">
<header>${HEADERS[section]}</header>
<main>
<h1>${title}</h1>
${body}
</main>
<footer>An example of libkbpipeline. Payments go through a sandbox gateway: no real money moves.</footer>
</body>
</html>
`;
}

function errorPage(status, title, detail, section) {
  return page({
    title,
    section,
    body: html`<p class="error" data-status="${status}">${detail}</p>
<p><a href="${section === 'admin' ? '/admin/jobs' : '/'}">Back</a></p>`,
  });
}

module.exports = { page, errorPage };

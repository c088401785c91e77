"""The browser console's assets (index.html, app.js, app.css): plain files, no build step; see console.py."""

"""Pure export functions (CSV, XLSX, PDF) shared by the pages and the command line."""
